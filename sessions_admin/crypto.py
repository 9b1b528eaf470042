"""Encryption at rest for the Breeze session token and key (Fernet, with key rotation).

``BREEZE_SESSION_ENCRYPTION_KEYS`` is a comma-separated list of Fernet keys (environment or
Secret Manager): the first encrypts, every one decrypts, so a key can be rotated by putting the
new one first and keeping the old one until ``manage.py breeze_session rotate-keys`` has
re-encrypted the rows. Without the setting (the embedded default) a key is derived from
``SECRET_KEY``, which still keeps a database dump alone from revealing the token.
"""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionFailed(RuntimeError):
    """A stored value could not be decrypted with any configured key."""


def _derived_key() -> bytes:
    digest = hashlib.sha256(b"breeze-proxy/session-encryption/" + settings.SECRET_KEY.encode())
    return base64.urlsafe_b64encode(digest.digest())


@functools.cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    materials = [key.encode() for key in keys] or [_derived_key()]
    return MultiFernet([Fernet(material) for material in materials])


def _configured() -> MultiFernet:
    return _fernet(tuple(settings.BREEZE_SESSION_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _configured().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _configured().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionFailed("stored session secret cannot be decrypted with any key") from exc
