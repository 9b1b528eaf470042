"""System checks and start-up notices that catch misconfiguration before it costs money."""

from __future__ import annotations

import logging
import os
from typing import Any

from django.conf import settings
from django.core.checks import Warning as CheckWarning
from django.core.checks import register

logger = logging.getLogger("market")

PROCESS_LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def announce_upstream() -> None:
    if settings.BREEZE_SANDBOX:
        logger.warning(
            "BREEZE_API_KEY is not set: talking to the Breeze simulator, not to ICICI Breeze",
            extra={"upstream": settings.BREEZE_API_URL},
        )


def _configured_workers() -> int:
    try:
        return int(os.environ.get("WEB_CONCURRENCY", "1"))
    except ValueError:
        return 1


@register()
def shared_state_check(app_configs: Any, **kwargs: Any) -> list[CheckWarning]:
    """market.W001: several workers on a process-local cache do not share limits or answers."""
    backend = settings.CACHES["default"]["BACKEND"]
    workers = _configured_workers()
    if backend in PROCESS_LOCAL_CACHES and workers > 1:
        return [
            CheckWarning(
                f"{workers} workers (WEB_CONCURRENCY) share a process-local cache: each keeps "
                "its own rate budget, breaker and cached answers, so the fleet can exceed "
                "Breeze's limits.",
                hint="Set REDIS_URL so every worker and instance shares one state.",
                id="market.W001",
            )
        ]
    return []
