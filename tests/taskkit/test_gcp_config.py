"""Configuration of the gcp family: everything from the environment, missing settings named clearly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taskkit.backends.gcp import create_blob_store, create_broker, create_document_store, create_firebase_verifier
from taskkit.errors import ConfigError
from taskkit.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_importing_taskkit_loads_no_google_library() -> None:
    code = (
        "import sys, taskkit, taskkit.settings, taskkit.backends, taskkit.backends.gcp\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('google', 'firebase_admin')))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


@pytest.mark.parametrize(
    ("factory", "settings", "variable"),
    [
        (create_document_store, Settings(backend="gcp"), "TASKKIT_PROJECT"),
        (create_broker, Settings(backend="gcp"), "TASKKIT_PROJECT"),
        (create_blob_store, Settings(backend="gcp"), "TASKKIT_PROJECT"),
        (create_blob_store, Settings(backend="gcp", project="p"), "TASKKIT_BUCKET"),
        (create_firebase_verifier, Settings(backend="gcp"), "TASKKIT_FIREBASE_PROJECT_ID"),
    ],
)
def test_missing_settings_name_the_variable(factory: object, settings: Settings, variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        factory(settings)  # type: ignore[operator]


def test_no_credentials_outside_google_cloud_is_a_config_error(tmp_path: Path) -> None:
    # A clean environment: no emulators, no key file, no gcloud login, no metadata server.
    env = {k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")}
    env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    env.update(HOME=str(tmp_path), CLOUDSDK_CONFIG=str(tmp_path), NO_GCE_CHECK="true")
    code = (
        "from taskkit.backends.gcp import create_document_store\n"
        "from taskkit.errors import ConfigError\n"
        "from taskkit.settings import Settings\n"
        "try:\n"
        "    create_document_store(Settings(backend='gcp', project='p'))\n"
        "except ConfigError as e:\n"
        "    print('ConfigError:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert "ConfigError: no Google credentials found" in out.stdout, out.stdout + out.stderr


def test_settings_from_env_read_the_gcp_fields() -> None:
    settings = Settings.from_env(
        {
            "TASKKIT_BACKEND": "gcp",
            "TASKKIT_PROJECT": "singer-prod",
            "TASKKIT_BUCKET": "singer-prod-data",
            "TASKKIT_SIGNER_SERVICE_ACCOUNT": "api@singer-prod.iam.gserviceaccount.com",
            "TASKKIT_PUBSUB_PUBLISH_TIMEOUT_S": "12.5",
            "TASKKIT_PUBSUB_PUBLISH_ATTEMPTS": "3",
            "TASKKIT_TRANSACTION_ATTEMPTS": "7",
            "TASKKIT_FIREBASE_PROJECT_ID": "singer-auth",
            "TASKKIT_IAM_CREDENTIALS_ENDPOINT": "http://127.0.0.1:1234",
        }
    )
    assert (settings.project, settings.bucket) == ("singer-prod", "singer-prod-data")
    assert settings.signer_service_account == "api@singer-prod.iam.gserviceaccount.com"
    assert (settings.pubsub_publish_timeout_s, settings.pubsub_publish_attempts) == (12.5, 3)
    assert settings.transaction_attempts == 7
    assert settings.firebase_project_id == "singer-auth"
    assert settings.iam_credentials_endpoint == "http://127.0.0.1:1234"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TASKKIT_PUBSUB_PUBLISH_TIMEOUT_S", "soon"),
        ("TASKKIT_PUBSUB_PUBLISH_TIMEOUT_S", "0"),
        ("TASKKIT_PUBSUB_PUBLISH_ATTEMPTS", "0"),
        ("TASKKIT_TRANSACTION_ATTEMPTS", "many"),
        ("TASKKIT_PUSH_AUTH", "maybe"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({"TASKKIT_BACKEND": "gcp", variable: value})


def test_push_auth_is_on_against_google_cloud_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUBSUB_EMULATOR_HOST", raising=False)
    assert Settings.from_env({"TASKKIT_BACKEND": "gcp"}).push_auth_enabled is True
    assert Settings.from_env({"TASKKIT_BACKEND": "gcp", "TASKKIT_PUSH_AUTH": "false"}).push_auth_enabled is False
    assert Settings.from_env({"TASKKIT_BACKEND": "local"}).push_auth_enabled is False
    # An emulator variable does not turn push auth off: only TASKKIT_PUSH_AUTH=false does.
    emulator = {"TASKKIT_BACKEND": "gcp", "PUBSUB_EMULATOR_HOST": "127.0.0.1:8089"}
    assert Settings.from_env(emulator).push_auth_enabled is True
    assert Settings.from_env({**emulator, "TASKKIT_PUSH_AUTH": "false"}).push_auth_enabled is False
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:8089")  # the process environment by default
    assert Settings.from_env().with_changes(backend="gcp").push_auth_enabled is True
    assert Settings.from_env().with_changes(backend="gcp", push_auth=False).push_auth_enabled is False
