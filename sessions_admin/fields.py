"""A text field stored encrypted, so the database never holds a session secret in clear."""

from __future__ import annotations

import logging
from typing import Any

from django.db import models

from sessions_admin import crypto

logger = logging.getLogger(__name__)


class Unreadable(str):
    """An empty value standing for a ciphertext no configured key can decrypt (the keys were
    replaced without ``rotate-keys``). It reads as empty, so nothing uses a secret it cannot
    have, pages and health keep working, and ``rotate-keys`` can tell such rows apart."""

    __slots__ = ()


class EncryptedTextField(models.TextField):
    description = "Text encrypted at rest with Fernet"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value in (None, ""):
            return value
        try:
            return crypto.decrypt(value)
        except crypto.DecryptionFailed:
            logger.warning("a stored session secret cannot be decrypted with any configured key")
            return Unreadable()

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return crypto.encrypt(value)
