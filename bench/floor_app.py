"""The floor: the smallest WSGI app gunicorn can serve, under the proxy's own gunicorn config.

``gunicorn -c gunicorn.conf.py bench.floor_app:app`` gives the best req/s and latency this
machine, this gunicorn configuration and this load generator allow; the proxy's cached-quote
figures are reported as a fraction of it, which makes them comparable across machines.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import django

# The production gunicorn config runs Django's system checks in ``when_ready``, so Django must
# be set up in the master even for this app; it happens once at import, never per request.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "breeze_proxy.settings")
django.setup()

BODY = b'{"status":"ok","source":"floor"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Read the request body (as the proxy must) and answer a fixed small JSON document."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", HEADERS)
    return [BODY]
