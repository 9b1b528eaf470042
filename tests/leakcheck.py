"""A sweep over the whole test run: no response or log line may contain a secret.

Every response the proxy produced in this process (body and headers) and every log record
(formatted WITHOUT the production redaction, so that code which logs a secret is caught even
though redaction would have hidden it) is kept; at the end of the run the configured secrets,
every session token the tests handed the proxy and every client key created are searched for.
Log files of proxy processes started by the tests are searched too.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from pathlib import Path

from django.http import HttpRequest, HttpResponse

_responses: list[str] = []
_log_lines: list[str] = []
_secrets: set[str] = set()
_log_only_secrets: set[str] = set()
_log_files: list[Path] = []


def remember_secret(value: str, *, logs_only: bool = False) -> None:
    """Register a value that must never leave the proxy."""
    if value and len(value) >= 6:
        (_log_only_secrets if logs_only else _secrets).add(value)


def remember_session(user_id: str, session_key: str) -> None:
    remember_secret(session_key, logs_only=True)  # short digits: search only the logs
    remember_secret(base64.b64encode(f"{user_id}:{session_key}".encode()).decode())


def remember_log_file(path: Path) -> None:
    _log_files.append(path)


class CaptureResponsesMiddleware:
    """Outermost test-only middleware: keeps what every response sent."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        headers = json.dumps(dict(response.items()))
        body = b"" if response.streaming else response.content
        _responses.append(headers + "\n" + body.decode("utf-8", "replace"))
        return response


class RawLogCapture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        extras = {k: v for k, v in record.__dict__.items() if k not in _PLAIN}
        exception = logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        _log_lines.append(f"{record.getMessage()} {json.dumps(extras, default=str)} {exception}")


_PLAIN = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}


def configured_secrets() -> set[str]:
    from django.conf import settings

    values = {
        settings.BREEZE_API_SECRET,
        settings.BREEZE_PROXY_ADMIN_KEY,
        settings.SECRET_KEY,
        *settings.BREEZE_SESSION_ENCRYPTION_KEYS,
        getattr(settings, "BREEZE_CLIENT_KEY_PEPPER", ""),
    }
    return {value for value in values if value and len(value) >= 6}


def find_leaks() -> list[str]:
    everywhere = _secrets | configured_secrets()
    files = [path.read_text(errors="replace") for path in _log_files if path.exists()]
    logs = _log_lines + files
    leaks = []
    for secret in sorted(everywhere):
        hits = sum(secret in text for text in _responses) + sum(secret in t for t in logs)
        if hits:
            leaks.append(f"{secret[:4]}… found in {hits} responses/log lines")
    for secret in sorted(_log_only_secrets):
        hits = sum(secret in text for text in logs)
        if hits:
            leaks.append(f"session key {secret[:2]}… found in {hits} log lines")
    return leaks


def summary() -> str:
    return (
        f"secret sweep: {len(_responses)} responses, {len(_log_lines)} log records, "
        f"{len(_log_files)} process logs, {len(_secrets | configured_secrets())} secrets"
    )
