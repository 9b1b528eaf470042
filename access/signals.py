"""A key's cached lookup follows its row on every instance at once, with no window for a stale
copy: when a row changes, the fresh record is WRITTEN to the store after the transaction
commits, while a request that read the row earlier may only ADD its copy (``access.selectors``).
So a revocation can never be overwritten by a lookup that started before it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from access.models import ClientKey
from access.selectors import key_cache_key, record_of


@receiver(post_save, sender=ClientKey)
def client_key_refresh(sender: type[ClientKey], instance: ClientKey, **kwargs: Any) -> None:
    if not instance.key_digest:
        return
    record = record_of(instance)
    transaction.on_commit(
        lambda: cache.set(
            key_cache_key(instance.key_digest), record, settings.BREEZE_CLIENT_KEY_CACHE_TTL_S
        )
    )


@receiver(post_delete, sender=ClientKey)
def client_key_forget(sender: type[ClientKey], instance: ClientKey, **kwargs: Any) -> None:
    if instance.key_digest:
        digest = instance.key_digest
        transaction.on_commit(
            lambda: cache.set(key_cache_key(digest), False, settings.BREEZE_UNKNOWN_KEY_CACHE_TTL_S)
        )
