"""Shared shapes of the access tests (the client-key fixtures live in tests/conftest.py)."""

from __future__ import annotations

KEY_HEADER = "HTTP_X_PROXY_KEY"
QUOTE = {"stock_code": "RELIND"}
