"""Per-purpose keys derived from the secret, rotation through the previous key, and the refusal of a public key."""

from __future__ import annotations

import subprocess
import sys

import pytest
from itsdangerous import BadSignature

from credflow.errors import ConfigurationError
from credflow.keyring import DEV_SECRET_KEY, KeyRing, Purpose, check_secret_for_exposure, derive, is_loopback_host

SECRET = "a-long-random-secret-for-the-keyring-tests-0123456789"
OTHER = "another-long-random-secret-for-the-keyring-tests-987"


def test_every_purpose_has_its_own_key_and_none_is_the_secret() -> None:
    keys = {purpose: derive(SECRET, purpose) for purpose in Purpose}
    assert len(set(keys.values())) == len(Purpose)
    assert all(len(key) == 32 and SECRET.encode() not in key for key in keys.values())
    assert derive(SECRET, Purpose.SESSION) == derive(SECRET, Purpose.SESSION)  # deterministic across processes
    assert derive(OTHER, Purpose.SESSION) != derive(SECRET, Purpose.SESSION)


def test_a_signature_of_one_purpose_is_refused_by_another() -> None:
    ring = KeyRing(SECRET)
    token = ring.serializer(Purpose.REVIEW_LINK).dumps({"a": "x"})
    assert ring.serializer(Purpose.REVIEW_LINK).loads(token) == {"a": "x"}
    for purpose in set(Purpose) - {Purpose.REVIEW_LINK}:
        with pytest.raises(BadSignature):
            ring.serializer(purpose).loads(token)
    mac = ring.mac(Purpose.OPS_TOKEN, b"m")
    assert ring.verify_mac(Purpose.OPS_TOKEN, b"m", mac)
    assert not ring.verify_mac(Purpose.STORE_URL, b"m", mac)


def test_during_a_rotation_the_previous_key_verifies_but_never_signs() -> None:
    old, rotating, new = KeyRing(OTHER), KeyRing(SECRET, previous=OTHER), KeyRing(SECRET)
    old_token = old.serializer(Purpose.SESSION).dumps("s")
    assert rotating.serializer(Purpose.SESSION).loads(old_token) == "s"
    with pytest.raises(BadSignature):
        new.serializer(Purpose.SESSION).loads(old_token)  # rotation over: the old key is gone
    signed_now = rotating.serializer(Purpose.SESSION).dumps("t")
    assert new.serializer(Purpose.SESSION).loads(signed_now) == "t"  # signed with the new key
    with pytest.raises(BadSignature):
        old.serializer(Purpose.SESSION).loads(signed_now)
    assert rotating.verify_mac(Purpose.OPS_TOKEN, b"m", old.mac(Purpose.OPS_TOKEN, b"m"))
    assert rotating.mac(Purpose.OPS_TOKEN, b"m") == new.mac(Purpose.OPS_TOKEN, b"m")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("badges.example.org", False),
        ("localhost.example.org", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_the_public_default_key_is_refused_beyond_loopback_with_how_to_make_one() -> None:
    check_secret_for_exposure(secret=DEV_SECRET_KEY, bind_host="127.0.0.1", public_url="http://127.0.0.1:8000")
    check_secret_for_exposure(secret=SECRET, bind_host="0.0.0.0", public_url="https://badges.example.org")
    for host, url in (("0.0.0.0", "http://127.0.0.1:8000"), ("127.0.0.1", "https://badges.example.org")):
        with pytest.raises(ConfigurationError) as refused:
            check_secret_for_exposure(secret=DEV_SECRET_KEY, bind_host=host, public_url=url)
        assert "public default" in str(refused.value) and "secrets.token_urlsafe" in str(refused.value)
    with pytest.raises(ConfigurationError, match="shorter than 32"):
        check_secret_for_exposure(secret="short", bind_host="0.0.0.0", public_url="https://x.example")


def test_credflow_serve_refuses_to_start_on_a_public_address_with_the_default_key(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "CREDFLOW_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "serve", "--host", "0.0.0.0", "--in-process"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "CREDFLOW_SECRET_KEY is the public default" in done.stdout + done.stderr
    assert not (tmp_path / "credflow.db").exists()  # refused before anything was built
