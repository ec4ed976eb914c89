"""The composition root: what it builds from settings is built once, and a copy with other settings gets its own."""

from __future__ import annotations

import dataclasses
import threading

from credflow.issuance.stage import key_store, ob2_key_store


def test_the_badge_key_stores_are_opened_once_per_services(services):
    keys_dir = services.settings.resolved_keys_dir
    assert key_store(services) is key_store(services) is services.key_store()
    assert key_store(services).keys_dir == keys_dir
    assert key_store(services).did_web_base == services.settings.did_web_base
    ob2 = ob2_key_store(services, "openscied")
    assert ob2 is ob2_key_store(services, "openscied") is services.ob2_key_store("openscied")
    assert ob2.folder == keys_dir / "ob2" / "openscied"
    assert ob2_key_store(services, "other").folder == keys_dir / "ob2" / "other"


def test_threads_asking_at_once_share_one_key_store(services):
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(services.key_store())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(store) for store in seen}) == 1


def test_services_with_other_settings_get_their_own_key_stores(services, tmp_path):
    other = dataclasses.replace(services, settings=services.settings.model_copy(update={"keys_dir": tmp_path / "k2"}))
    assert key_store(other) is not key_store(services)
    assert key_store(other).keys_dir == tmp_path / "k2"
    assert ob2_key_store(other, "openscied").folder == tmp_path / "k2" / "ob2" / "openscied"


def test_a_copy_of_the_services_with_the_same_settings_shares_their_key_stores(services):
    copy = services.__class__(**{**services.__dict__, "mailer": services.mailer})
    assert key_store(copy) is key_store(services)
