"""The daily Breeze session: one row per activation attempt, the newest active one is live."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone

from sessions_admin.fields import EncryptedTextField


class BreezeSession(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REPLACED = "replaced", "Replaced by a newer session"
        CLEARED = "cleared", "Cleared by staff"
        REJECTED = "rejected", "Rejected by Breeze"
        FAILED = "failed", "Activation failed"

    status = models.CharField(max_length=16, choices=Status.choices, db_index=True)
    # The token a person pasted and the key Breeze derived from it: encrypted, never shown.
    api_session = EncryptedTextField(blank=True, default="", editable=False)
    session_key = EncryptedTextField(blank=True, default="", editable=False)
    breeze_user_id = models.CharField(max_length=64, blank=True, default="")
    activated_by = models.CharField(max_length=150, blank=True, default="")
    activated_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-activated_at", "-id"]
        get_latest_by = "activated_at"
        verbose_name = "Breeze session"
        indexes = [models.Index(fields=["status", "-activated_at"], name="session_live_idx")]

    def __str__(self) -> str:
        return f"Breeze session {self.pk} ({self.status})"

    def __repr__(self) -> str:  # the encrypted fields hold secrets once loaded
        return f"<BreezeSession id={self.pk} status={self.status}>"

    def is_live(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return (
            self.status == self.Status.ACTIVE
            and self.expires_at is not None
            and self.expires_at > now
        )

    def seconds_left(self, now: datetime | None = None) -> int:
        if not self.is_live(now) or self.expires_at is None:
            return 0
        return int((self.expires_at - (now or timezone.now())).total_seconds())
