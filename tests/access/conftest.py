"""Client keys for the access tests, each remembered by the run's secret sweep."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from access.models import SCOPES, ClientKey
from access.services import client_key_create
from tests import leakcheck

KEY_HEADER = "HTTP_X_PROXY_KEY"
QUOTE = {"stock_code": "RELIND"}

MakeKey = Callable[..., tuple[ClientKey, str]]


@pytest.fixture
def make_key(db) -> MakeKey:
    def make(
        name: str = "frontend",
        *,
        scopes: tuple[str, ...] = SCOPES,
        quota: int = 600,
        origins: tuple[str, ...] = (),
    ) -> tuple[ClientKey, str]:
        key, raw = client_key_create(
            name=name, scopes=scopes, quota=quota, origins=origins, created_by="test"
        )
        leakcheck.remember_secret(raw)  # never in a response or a log line
        return key, raw

    return make


@pytest.fixture
def keys_required(settings) -> None:
    settings.BREEZE_REQUIRE_CLIENT_KEY = True
