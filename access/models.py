"""Client API keys (stored only as a keyed digest) and the audit trail of security events."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

SCOPES = (
    "quotes",
    "depth",
    "historical",
    "batch",
    "option_chain",
    "instruments",
    "stream",
    "metrics",
)
KEY_PREFIX_LENGTH = 8  # "bzp_" and four random characters: enough to tell keys apart


def split_list(value: str) -> list[str]:
    """``"a, b\\nc"`` → ``["a", "b", "c"]``: how scopes and origins are stored."""
    return [item.strip() for item in value.replace("\n", ",").split(",") if item.strip()]


def validate_scopes(value: str) -> None:
    scopes = split_list(value)
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValidationError(
            f"Unknown scope(s): {', '.join(unknown)}. Choose from {', '.join(SCOPES)}."
        )
    if not scopes:
        raise ValidationError("Give the key at least one scope.")


def normalize_origin(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def validate_origins(value: str) -> None:
    for origin in split_list(value):
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path.strip("/"):
            raise ValidationError(
                f"{origin!r} is not an origin; write it as scheme://host[:port], "
                "e.g. https://app.example.com."
            )


class ClientKey(models.Model):
    """One frontend or backend allowed to call the market endpoints with ``X-Proxy-Key``.

    The key itself is never stored: only its HMAC-SHA256 under a server-side pepper (so a
    database dump does not let anyone present it) and its first characters to recognise it.
    """

    name = models.CharField(max_length=100, unique=True)
    prefix = models.CharField(max_length=KEY_PREFIX_LENGTH, editable=False)
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.CharField(
        max_length=200,
        validators=[validate_scopes],
        help_text=f"Comma-separated, from: {', '.join(SCOPES)}.",
    )
    allowed_origins = models.TextField(
        blank=True,
        default="",
        validators=[validate_origins],
        help_text="Comma- or line-separated browser origins; empty allows any origin.",
    )
    per_minute_quota = models.PositiveIntegerField(
        default=600,
        validators=[MinValueValidator(1)],
        help_text="Requests a minute (answers from the cache count too).",
    )
    calls_per_day = models.PositiveIntegerField(
        default=0,
        blank=True,
        help_text="The most Breeze calls this key's requests may cause in an IST day; "
        "0 means the default share (BREEZE_KEY_CALLS_PER_DAY).",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.CharField(max_length=150, blank=True, default="", editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "client key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def __repr__(self) -> str:
        return f"<ClientKey id={self.pk} name={self.name!r} prefix={self.prefix!r}>"

    @property
    def scope_list(self) -> list[str]:
        return split_list(self.scopes)

    @property
    def origin_list(self) -> list[str]:
        return [normalize_origin(origin) for origin in split_list(self.allowed_origins)]

    @property
    def is_usable(self) -> bool:
        return self.is_active and self.revoked_at is None


class AuditEvent(models.Model):
    """Who changed the session or the keys, and who failed to: never a secret in any field."""

    class Action(models.TextChoices):
        SESSION_ACTIVATED = "session_activated", "Session activated"
        SESSION_ACTIVATION_FAILED = "session_activation_failed", "Session activation failed"
        SESSION_CLEARED = "session_cleared", "Session cleared"
        SESSION_REGENERATED = "session_regenerated", "Session regenerated"
        CLIENT_KEY_CREATED = "client_key_created", "Client key created"
        CLIENT_KEY_REVOKED = "client_key_revoked", "Client key revoked"
        ADMIN_KEY_FAILURE = "admin_key_failure", "Wrong admin key"
        ADMIN_LOCKOUT = "admin_lockout", "Admin key locked out"
        ADMIN_KEY_AS_CLIENT_KEY = "admin_key_as_client_key", "Admin key used as a client key"

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        REFUSED = "refused", "Refused"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.CharField(max_length=150, blank=True, default="")
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    details = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "audit event"

    def __str__(self) -> str:
        return f"{self.action} ({self.outcome}) by {self.actor or 'unknown'}"
