"""Sections of ``/breeze/health`` contributed by apps the health view cannot import.

The health view lives in ``market``; the live stream (``stream``) sits above it in the layers.
An app registers a function here when it is ready, and the view adds whatever the registered
functions return, so health grows with the apps without an import going up the layers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("common.health")

_sections: dict[str, Callable[[], dict[str, Any]]] = {}


def register(name: str, section: Callable[[], dict[str, Any]]) -> None:
    _sections[name] = section


def sections() -> dict[str, dict[str, Any]]:
    """Every registered section; one that fails reports its failure instead of failing health."""
    found: dict[str, dict[str, Any]] = {}
    for name, section in _sections.items():
        try:
            found[name] = section()
        except Exception as exc:  # health must answer even when a part of it cannot
            logger.warning("health section failed", extra={"section": name, "error": str(exc)})
            found[name] = {"error": type(exc).__name__}
    return found
