"""The one place that changes the Breeze session: activate, regenerate, clear, reject.

Every way staff hand over a token (the admin API, the Django admin page, the management
command) ends here, so validation, expiry and cache invalidation behave the same for all.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from access.audit import audit_record
from access.models import AuditEvent
from breeze.clock import next_ist_midnight
from breeze.errors import ProxyError
from breeze.gateway import budget
from breeze.gateway import client as gateway
from breeze.gateway.errors import BreezeError, SessionMissing
from sessions_admin.fields import Unreadable
from sessions_admin.models import BreezeSession
from sessions_admin.selectors import LIVE_SESSION_CACHE_KEY, STATUS_CACHE_KEY

logger = logging.getLogger(__name__)

TOKEN_PATTERN = r"^[A-Za-z0-9._~+/=\-]{4,256}$"  # noqa: S105 - a pattern, not a secret
_TOKEN = re.compile(TOKEN_PATTERN)


class InvalidSessionToken(ProxyError):
    status_code = 400
    code = "invalid_session_token"
    message = "The session token must be 4 to 256 letters, digits or -._~+/= characters."


def clean_session_token(raw: str) -> str:
    token = (raw or "").strip()
    if not _TOKEN.match(token):
        raise InvalidSessionToken()
    return token


def _forget_live_session() -> None:
    cache.delete_many([LIVE_SESSION_CACHE_KEY, STATUS_CACHE_KEY])


def breeze_session_activate(
    *,
    api_session: str,
    activated_by: str,
    now: datetime | None = None,
    source_ip: str | None = None,
) -> BreezeSession:
    """Validate ``api_session`` with Breeze and make it the live session.

    A failure is recorded and raised, and leaves the previous live session untouched.
    """
    token = clean_session_token(api_session)
    try:
        budget.acquire()  # customerdetails is a Breeze call like any other
        credentials = gateway.session_exchange(api_session=token)
    except BreezeError as exc:
        failed_at = timezone.now()
        BreezeSession.objects.create(
            status=BreezeSession.Status.FAILED,
            activated_by=activated_by,
            activated_at=failed_at,
            last_error=f"{exc.message} {exc.details or ''}".strip(),
            last_error_at=failed_at,
        )
        logger.warning(
            "session activation failed", extra={"activated_by": activated_by, "code": exc.code}
        )
        audit_record(
            action=AuditEvent.Action.SESSION_ACTIVATION_FAILED,
            actor=activated_by,
            source_ip=source_ip,
            outcome=AuditEvent.Outcome.FAILURE,
            details=exc.code,
        )
        raise
    now = now or timezone.now()
    with transaction.atomic():
        BreezeSession.objects.filter(status=BreezeSession.Status.ACTIVE).update(
            status=BreezeSession.Status.REPLACED, ended_at=now
        )
        _wipe_ended_secrets(now)
        session = BreezeSession.objects.create(
            status=BreezeSession.Status.ACTIVE,
            api_session=token,
            session_key=credentials.session_key,
            breeze_user_id=credentials.user_id,
            activated_by=activated_by,
            activated_at=now,
            expires_at=next_ist_midnight(now),
        )
    _forget_live_session()
    audit_record(
        action=AuditEvent.Action.SESSION_ACTIVATED,
        actor=activated_by,
        source_ip=source_ip,
        details=f"session {session.pk} until {session.expires_at.isoformat()}",
    )
    logger.info(
        "session activated",
        extra={
            "activated_by": activated_by,
            "session_id": session.pk,
            "expires_at": session.expires_at.isoformat(),
        },
    )
    return session


def breeze_session_regenerate(
    *, activated_by: str, now: datetime | None = None, source_ip: str | None = None
) -> BreezeSession:
    """Exchange the stored token again, for when Breeze dropped the derived key mid-day."""
    latest = (
        BreezeSession.objects.exclude(api_session="")
        .filter(status__in=[BreezeSession.Status.ACTIVE, BreezeSession.Status.REJECTED])
        .first()
    )
    if latest is None:
        raise SessionMissing("There is no stored session token to regenerate from.")
    session = breeze_session_activate(
        api_session=latest.api_session, activated_by=activated_by, now=now, source_ip=source_ip
    )
    audit_record(
        action=AuditEvent.Action.SESSION_REGENERATED,
        actor=activated_by,
        source_ip=source_ip,
        details=f"session {session.pk} from the token of session {latest.pk}",
    )
    return session


def breeze_session_clear(
    *, cleared_by: str, now: datetime | None = None, source_ip: str | None = None
) -> int:
    now = now or timezone.now()
    with transaction.atomic():
        count = BreezeSession.objects.filter(status=BreezeSession.Status.ACTIVE).update(
            status=BreezeSession.Status.CLEARED,
            ended_at=now,
            last_error=f"cleared by {cleared_by}",
        )
        _wipe_ended_secrets(now)
    _forget_live_session()
    audit_record(
        action=AuditEvent.Action.SESSION_CLEARED,
        actor=cleared_by,
        source_ip=source_ip,
        details=f"{count} live session(s) cleared",
    )
    logger.info("session cleared", extra={"cleared_by": cleared_by, "sessions": count})
    return count


def breeze_session_mark_rejected(*, session_id: int, error: str) -> None:
    """Breeze refused the live session: stop using it so calls fail fast and health says so."""
    now = timezone.now()
    updated = BreezeSession.objects.filter(
        pk=session_id, status=BreezeSession.Status.ACTIVE
    ).update(
        status=BreezeSession.Status.REJECTED, last_error=error, last_error_at=now, ended_at=now
    )
    _forget_live_session()
    if updated:
        logger.warning("session rejected by Breeze", extra={"session_id": session_id})


def _wipe_ended_secrets(now: datetime) -> int:
    """Forget the token and key of every session that can no longer be used: replaced,
    cleared, failed, past its midnight, or rejected (a rejected session's token is kept until
    the next activation or clear, for ``regenerate``)."""
    live = BreezeSession.objects.filter(status=BreezeSession.Status.ACTIVE, expires_at__gt=now)
    ended = BreezeSession.objects.exclude(pk__in=live.values("pk")).exclude(
        api_session="", session_key=""
    )
    return ended.update(api_session="", session_key="")


def breeze_session_reencrypt(*, now: datetime | None = None) -> dict[str, int]:
    """Re-encrypt the live session's token and key with the newest configured key (rotation:
    put the new key first in BREEZE_SESSION_ENCRYPTION_KEYS, run this, then drop the old).

    Ended sessions' secrets are wiped rather than re-encrypted; a secret no configured key can
    read (the old key was dropped too early) is wiped as well, and counted, so the command can
    say that the live session must be activated again."""
    now = now or timezone.now()
    result = {"reencrypted": 0, "wiped": 0, "unreadable": 0}
    with transaction.atomic():
        result["wiped"] = _wipe_ended_secrets(now)
        rows = BreezeSession.objects.exclude(api_session="", session_key="")
        for row in rows.select_for_update():
            if isinstance(row.api_session, Unreadable) or isinstance(row.session_key, Unreadable):
                row.api_session = row.session_key = ""
                result["unreadable"] += 1
            else:
                result["reencrypted"] += 1
            # Reading decrypted with whichever key matches; saving encrypts with the first.
            row.save(update_fields=["api_session", "session_key"])
    _forget_live_session()
    return result
