"""``credflow badge rotate-key``: a routine rotation keeps the old key's list signable; --compromised does not."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.main import app
from credflow.badges.errors import KeyStoreError
from credflow.issuance.stage import key_fingerprint, key_store
from credflow.services import build_services


@pytest.mark.parametrize("compromised", [False, True])
def test_rotate_key_from_the_cli(make_settings, monkeypatch, compromised):
    services = build_services(make_settings())
    monkeypatch.setenv("CREDFLOW_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("CREDFLOW_CATALOG_DIR", str(services.settings.catalog_dir))
    keys = key_store(services)
    old = keys.current("openscied")
    args = ["badge", "rotate-key", "openscied", *(["--compromised"] if compromised else [])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    new = keys.current("openscied")
    assert new.key_id != old.key_id and new.key_id in result.output.replace("\n", "")
    fingerprint = key_fingerprint(old.public_key_multibase)
    if compromised:
        assert "secret is deleted" in result.output
        with pytest.raises(KeyStoreError, match="compromised"):
            keys.status_signer("openscied", fingerprint)
    else:
        assert keys.status_signer("openscied", fingerprint).private_key is not None
    assert CliRunner().invoke(app, ["badge", "rotate-key", "nobody"]).exit_code != 0
