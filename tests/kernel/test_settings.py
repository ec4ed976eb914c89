"""Settings: defaults need no server, and nonsense fails at start naming the setting."""

import pytest

from credflow.errors import ConfigurationError
from credflow.settings import MailBackend, StorageBackend, load_settings


def test_defaults_are_embedded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.storage_backend is StorageBackend.LOCAL
    assert settings.mail_backend is MailBackend.OUTBOX
    assert settings.resolved_database_url.startswith("sqlite:///") and settings.resolved_database_url.endswith(
        "credflow.db"
    )


def test_environment_selects_production_backends(monkeypatch):
    monkeypatch.setenv("CREDFLOW_STORAGE_BACKEND", "s3")
    monkeypatch.setenv("CREDFLOW_S3_BUCKET", "evidence")
    monkeypatch.setenv("CREDFLOW_MAIL_BACKEND", "sendgrid")
    monkeypatch.setenv("CREDFLOW_SENDGRID_API_KEY", "SG.x")
    monkeypatch.setenv("CREDFLOW_DATABASE_URL", "postgresql://u@127.0.0.1/db")
    settings = load_settings()
    assert settings.storage_backend is StorageBackend.S3 and settings.s3_bucket == "evidence"
    assert settings.sendgrid_api_key is not None and "SG.x" not in repr(settings)
    assert settings.resolved_database_url == "postgresql://u@127.0.0.1/db"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CREDFLOW_STORAGE_BACKEND": "ftp"}, "CREDFLOW_STORAGE_BACKEND"),
        ({"CREDFLOW_DATABASE_URL": "mysql://x"}, "CREDFLOW_DATABASE_URL"),
        ({"CREDFLOW_TRANSCODE_CONCURRENCY": "0"}, "CREDFLOW_TRANSCODE_CONCURRENCY"),
        ({"CREDFLOW_PUBLIC_URL": "localhost:8000"}, "CREDFLOW_PUBLIC_URL"),
        ({"CREDFLOW_SECRET_KEY": "short"}, "CREDFLOW_SECRET_KEY"),
        ({"CREDFLOW_STORAGE_BACKEND": "s3"}, "CREDFLOW_S3_BUCKET"),
        ({"CREDFLOW_MAIL_BACKEND": "sendgrid"}, "CREDFLOW_SENDGRID_API_KEY"),
        ({"CREDFLOW_MAIL_SENDER": "nobody"}, "CREDFLOW_MAIL_SENDER"),
    ],
)
def test_nonsense_fails_naming_the_setting(monkeypatch, env, named):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert named in str(info.value)


def test_missing_ffmpeg_is_named(tmp_path):
    settings = load_settings(data_dir=tmp_path, ffprobe_path="/nonexistent/ffprobe")
    with pytest.raises(ConfigurationError, match="CREDFLOW_FFPROBE_PATH"):
        settings.check_tools()


@pytest.mark.parametrize(("value", "expected"), [(None, False), ("", False), ("0", False), ("1", True), ("true", True)])
def test_the_deployments_switch_is_a_setting_read_from_credflow_deployments(monkeypatch, value, expected):
    monkeypatch.delenv("CREDFLOW_DEPLOYMENTS", raising=False)
    if value is not None:
        monkeypatch.setenv("CREDFLOW_DEPLOYMENTS", value)
    assert load_settings().deployments is expected


def test_a_deployments_switch_that_is_not_yes_or_no_fails_at_start(monkeypatch):
    monkeypatch.setenv("CREDFLOW_DEPLOYMENTS", "maybe")
    with pytest.raises(ConfigurationError, match="CREDFLOW_DEPLOYMENTS"):
        load_settings()
