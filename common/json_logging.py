"""JSON log lines for Cloud Logging, each carrying the request id, with secrets scrubbed.

Cloud Logging reads ``severity`` and ``message`` from a JSON line on stdout, so every event is
one such line. The request id lives in a context variable set by the request middleware, so
log calls anywhere (services, the gateway, the SDK's own loggers) carry it without passing it
around. Redaction is a last line of defence: code never logs a secret on purpose, but an
exception message from a library might echo one.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import traceback
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Every request writes an access line, so what a record costs matters: the JSON never shows
# the caller's file and line, thread or process names, so logging need not work them out
# (the logging HOWTO's "Optimization" section).
logging._srcfile = None  # type: ignore[attr-defined]
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "request_id"}
)

REDACTED = "[redacted]"


def secrets_to_redact() -> tuple[str, ...]:
    """The configured secret values, longest first so a secret inside another is caught."""
    try:
        from django.conf import settings

        values = tuple(getattr(settings, "REDACT_VALUES", ()))
    except Exception:  # settings not configured yet (very early start-up)
        values = ()
    return _ordered(values)


@functools.lru_cache(maxsize=8)
def _ordered(values: tuple[str, ...]) -> tuple[str, ...]:
    # Every log line is scrubbed, so the list is ordered once per configuration, not per line.
    return tuple(sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True))


def redact(text: str) -> str:
    for secret in secrets_to_redact():
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RequestIdFilter(logging.Filter):
    """Stamps every record with the id of the request being served (or ``-``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line with Cloud Logging's field names."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "severity": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_var.get()),
        }
        fields = record.__dict__
        for key in fields.keys() - _STANDARD_ATTRS:
            if not key.startswith("_"):
                payload[key] = fields[key]
        if record.exc_info:
            payload["exception"] = "".join(traceback.format_exception(*record.exc_info))
        return redact(json.dumps(payload, default=str))
