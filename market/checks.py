"""System checks and start-up notices that catch misconfiguration before it costs money."""

from __future__ import annotations

import logging

from django.conf import settings

logger = logging.getLogger("market")


def announce_upstream() -> None:
    if settings.BREEZE_SANDBOX:
        logger.warning(
            "BREEZE_API_KEY is not set: talking to the Breeze simulator, not to ICICI Breeze",
            extra={"upstream": settings.BREEZE_API_URL},
        )
