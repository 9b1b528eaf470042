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


@register()
def eviction_policy_check(app_configs: Any, **kwargs: Any) -> list[CheckWarning]:
    """market.W002: the shared Redis must not evict. It holds the counters that protect the
    fleet (lockouts, quotas, the budget, the breaker) next to cached answers; under an evicting
    policy a full Redis would drop a lockout or a budget window to make room for a quote."""
    from breeze import store

    try:
        reading = store.memory(fresh=True)
    except Exception as exc:  # unreachable Redis is reported by the requests that need it
        logger.warning("could not read the Redis eviction policy", extra={"error": str(exc)})
        return []
    if reading is None or reading.policy == "noeviction":
        return []
    return [
        CheckWarning(
            f"Redis maxmemory-policy is {reading.policy!r}: the counters that protect Breeze "
            "(lockouts, quotas, budget windows, breaker) can be evicted under memory pressure.",
            hint="Configure the Redis behind REDIS_URL with maxmemory-policy noeviction "
            "(Memorystore: the maxmemory-policy configuration); cached answers are bounded "
            "by the proxy itself.",
            id="market.W002",
        )
    ]
