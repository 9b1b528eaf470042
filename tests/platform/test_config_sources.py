"""Credentials come from the environment first, then Google Secret Manager, read once."""

from __future__ import annotations

import sys
import types

import pytest

from breeze_proxy import config_sources


class FakeSecretManager:
    """Stands in for google.cloud.secretmanager: records every access."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.calls: list[str] = []
        manager = self

        class NotFound(Exception):
            pass

        class Client:
            def access_secret_version(self, request: dict, timeout: float):
                name = request["name"]
                manager.calls.append(name)
                secret = name.split("/secrets/")[1].split("/")[0]
                if secret not in manager.values:
                    raise NotFound(name)
                payload = types.SimpleNamespace(data=manager.values[secret].encode())
                return types.SimpleNamespace(payload=payload)

        self.module = types.SimpleNamespace(SecretManagerServiceClient=Client)


@pytest.fixture
def secret_manager(monkeypatch):
    fake = FakeSecretManager({"BREEZE_API_SECRET": "from-secret-manager"})
    google = types.ModuleType("google")
    cloud = types.ModuleType("google.cloud")
    cloud.secretmanager = fake.module
    google.cloud = cloud
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.cloud", cloud)
    monkeypatch.setitem(sys.modules, "google.cloud.secretmanager", fake.module)
    config_sources._secret_manager_value.cache_clear()
    yield fake
    config_sources._secret_manager_value.cache_clear()


def test_environment_wins_and_secret_manager_is_not_called(monkeypatch, secret_manager):
    monkeypatch.setenv("GCP_PROJECT_ID", "demo")
    monkeypatch.setenv("BREEZE_API_SECRET", "from-env")

    assert config_sources.secret_value("BREEZE_API_SECRET") == "from-env"
    assert secret_manager.calls == []


def test_secret_manager_is_read_once_when_env_is_missing(monkeypatch, secret_manager):
    monkeypatch.setenv("GCP_PROJECT_ID", "demo")
    monkeypatch.delenv("BREEZE_API_SECRET", raising=False)

    first = config_sources.secret_value("BREEZE_API_SECRET")
    second = config_sources.secret_value("BREEZE_API_SECRET")

    assert first == second == "from-secret-manager"
    assert secret_manager.calls == ["projects/demo/secrets/BREEZE_API_SECRET/versions/latest"]


def test_missing_secret_falls_back_to_default(monkeypatch, secret_manager):
    monkeypatch.setenv("GCP_PROJECT_ID", "demo")
    monkeypatch.delenv("BREEZE_PROXY_ADMIN_KEY", raising=False)

    assert config_sources.secret_value("BREEZE_PROXY_ADMIN_KEY", "fallback") == "fallback"


def test_without_project_secret_manager_is_never_imported(monkeypatch):
    monkeypatch.delenv("GCP_PROJECT_ID", raising=False)
    monkeypatch.delenv("BREEZE_API_SECRET", raising=False)
    monkeypatch.setitem(sys.modules, "google.cloud.secretmanager", None)  # import would fail

    assert config_sources.secret_value("BREEZE_API_SECRET", "x") == "x"


def test_secret_values_are_not_logged(monkeypatch, secret_manager, caplog):
    monkeypatch.setenv("GCP_PROJECT_ID", "demo")
    monkeypatch.delenv("BREEZE_API_SECRET", raising=False)

    with caplog.at_level("INFO"):
        config_sources.secret_value("BREEZE_API_SECRET")

    assert "from-secret-manager" not in caplog.text
    assert any(getattr(r, "secret_name", "") == "BREEZE_API_SECRET" for r in caplog.records)
