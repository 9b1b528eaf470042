"""Drop a key's cached lookup whenever its row changes, on every instance at once."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from access.models import ClientKey
from access.selectors import key_cache_key


@receiver(post_save, sender=ClientKey)
@receiver(post_delete, sender=ClientKey)
def client_key_forget(sender: type[ClientKey], instance: ClientKey, **kwargs: Any) -> None:
    if instance.key_digest:
        cache.delete(key_cache_key(instance.key_digest))
