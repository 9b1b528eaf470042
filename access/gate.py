"""The access decision for one request: who is calling, may they use this endpoint from this
origin, and are they within their quota.

It is taken in two steps so that its reads can share the caller's round trip to the store:
:func:`plan` names the keys to read and the quota counter to raise (raised before the
decision, which is what makes the quota atomic across the fleet); :func:`decide` turns what
was read into an :class:`Access` or a refusal, giving the count back when the request is
refused for its key, scope or origin (so only requests that could have been served spend
quota). The market front door folds a plan into its single pipeline; :func:`admit` runs one
on its own for everything else (DRF's authentication class, the stream).
"""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from access import errors, lockout, quota
from access.admin_key import admin_key_verify
from access.audit import audit_record
from access.keys import key_digest, key_is_well_formed
from access.models import SCOPES, AuditEvent, normalize_origin
from access.principals import AdminPrincipal, AnonymousClient, ClientPrincipal, Principal
from access.selectors import KeyRecord, client_key_get_by_digest, key_cache_key
from access.services import client_key_mark_used
from breeze import store, telemetry
from breeze.errors import ProxyError

logger = logging.getLogger("access")


@dataclass(frozen=True)
class Plan:
    """What deciding about one request needs from the store."""

    raw: str
    kind: str  # "client", "admin_candidate", "anonymous" or "missing"
    source_ip: str | None
    now: float
    digest: str = ""
    quota_key: str | None = None  # raised in the caller's round trip
    gets: tuple[str, ...] = field(default_factory=tuple)

    @property
    def counter(self) -> tuple[str, int] | None:
        return (self.quota_key, quota.COUNTER_TTL_S) if self.quota_key else None

    @property
    def counters(self) -> list[tuple[str, int]]:
        return [self.counter] if self.counter else []


@dataclass(frozen=True)
class Access:
    principal: Principal
    rate: quota.RateLimitState | None  # None: not limited (the embedded default's anonymous)


def plan(raw: str, *, source_ip: str | None, now: float | None = None) -> Plan:
    now = time.time() if now is None else now
    window = quota.window_of(now)
    if not raw:
        if settings.BREEZE_REQUIRE_CLIENT_KEY:
            return Plan(raw, "missing", source_ip, now)
        counter = AnonymousClient(address=source_ip or "unknown").counter
        quota_key = quota.counter_key(counter, window) if settings.BREEZE_OPEN_QUOTA else None
        return Plan(raw, "anonymous", source_ip, now, quota_key=quota_key)
    if key_is_well_formed(raw):
        digest = key_digest(raw)
        return Plan(
            raw,
            "client",
            source_ip,
            now,
            digest=digest,
            quota_key=quota.counter_key(_counter(digest), window),
            gets=(key_cache_key(digest),),
        )
    # Not a client key: perhaps the admin key (one slot in the seed frontend), behind its lockout.
    return Plan(
        raw,
        "admin_candidate",
        source_ip,
        now,
        quota_key=quota.counter_key(AdminPrincipal.counter, window),
        gets=lockout.counter_keys(source_ip, now),
    )


def _counter(digest: str) -> str:
    """A key's quota counter is named from its digest, so it is known before the lookup."""
    return digest[:24]


def decide(
    plan: Plan,
    found: dict[str, Any],
    counts: list[int],
    *,
    origin: str | None,
    scope: str | None,
) -> Access:
    """The access ``plan`` leads to, given what its reads ``found`` and its quota ``counts``
    (counted in the metrics per key name: requests admitted and refusals by code)."""
    try:
        access = _decide(plan, found, counts, origin=origin, scope=scope)
    except ProxyError as exc:
        telemetry.record_client(_metrics_name(plan, found, exc.code), refused=exc.code)
        raise
    telemetry.record_client(getattr(access.principal, "name", "anonymous"))
    return access


def _metrics_name(plan: Plan, found: dict[str, Any], code: str) -> str:
    """Who a refused request said it was: the key's name when the key is known."""
    if plan.kind == "client":
        record = found.get(key_cache_key(plan.digest))
        known = bool(record) and hmac.compare_digest(record.digest, plan.digest)
        return record.name if known else "unknown"
    if plan.kind == "admin_candidate":  # only the right admin key gets as far as its quota
        return "admin-key" if code == "rate_limited" else "unknown"
    return {"missing": "none", "anonymous": "anonymous"}.get(plan.kind, "unknown")


def _decide(
    plan: Plan,
    found: dict[str, Any],
    counts: list[int],
    *,
    origin: str | None,
    scope: str | None,
) -> Access:
    try:
        principal, record = _principal(plan, found)
        _check_origin(record, origin)
        if scope is not None:
            require_scope(principal, scope)
    except BaseException:
        if plan.quota_key:
            store.uncount(plan.quota_key)
        raise
    if not plan.quota_key or not principal.quota:
        return Access(principal, None)
    count = counts[0] if counts else store.count(plan.quota_key, quota.COUNTER_TTL_S)
    if count == 1:  # the first request of the caller's minute: what is worth writing down
        if isinstance(principal, ClientPrincipal):
            _note_used(principal.key_id)
        elif isinstance(principal, AdminPrincipal):
            audit_record(
                action=AuditEvent.Action.ADMIN_KEY_AS_CLIENT_KEY,
                actor="admin-key",
                source_ip=plan.source_ip,
                details="market calls with the admin key in X-Proxy-Key (first of this minute)",
            )
    return Access(principal, quota.rate_limit(quota=principal.quota, count=count, now=plan.now))


def admit(raw: str, *, source_ip: str | None, origin: str | None, scope: str | None) -> Access:
    """The whole decision in its own round trip (for callers without one of their own)."""
    p = plan(raw, source_ip=source_ip)
    found, counts = store.exchange(gets=p.gets, counters=p.counters)
    return decide(p, found, counts, origin=origin, scope=scope)


def require_scope(principal: Principal, scope: str) -> None:
    if isinstance(principal, AnonymousClient):
        return
    if scope not in principal.scopes:
        raise errors.ScopeDenied(details={"required_scope": scope})


def _principal(plan: Plan, found: dict[str, Any]) -> tuple[Principal, KeyRecord | None]:
    if plan.kind == "missing":
        raise errors.ClientKeyRequired()
    if plan.kind == "anonymous":
        anonymous = AnonymousClient(
            address=plan.source_ip or "unknown",
            quota=settings.BREEZE_OPEN_QUOTA,
            calls_per_day=settings.BREEZE_OPEN_CALLS_PER_DAY,
            calls_per_minute=settings.BREEZE_OPEN_CALLS_PER_MINUTE,
        )
        return anonymous, None
    if plan.kind == "admin_candidate":
        if settings.BREEZE_PROXY_ADMIN_KEY and admin_key_verify(
            plan.raw, source_ip=plan.source_ip, counts=found
        ):
            admin = AdminPrincipal(
                scopes=frozenset(SCOPES),
                quota=settings.BREEZE_ADMIN_CLIENT_QUOTA,
                calls_per_day=settings.BREEZE_KEY_CALLS_PER_DAY,
                calls_per_minute=settings.BREEZE_KEY_CALLS_PER_MINUTE,
            )
            return admin, None
        raise errors.ClientKeyMalformed()
    record = _record(plan, found)
    if record is None:
        raise errors.ClientKeyInvalid()
    if not record.usable:
        raise errors.ClientKeyRevoked()
    client = ClientPrincipal(
        key_id=record.id,
        name=record.name,
        scopes=record.scopes,
        quota=record.quota,
        counter=_counter(record.digest),
        calls_per_day=record.calls_per_day or settings.BREEZE_KEY_CALLS_PER_DAY,
        calls_per_minute=settings.BREEZE_KEY_CALLS_PER_MINUTE,
    )
    return client, record


def _record(plan: Plan, found: dict[str, Any]) -> KeyRecord | None:
    cache_key = key_cache_key(plan.digest)
    if cache_key in found:
        cached = found[cache_key]
    else:
        _limit_lookups(plan)
        cached = client_key_get_by_digest(plan.digest)
    if not cached or not hmac.compare_digest(cached.digest, plan.digest):
        return None
    return cached


def _limit_lookups(plan: Plan) -> None:
    """Only a key the store does not know costs a database query. An address may cause at most
    ``BREEZE_KEY_LOOKUPS_PER_MINUTE`` of those and the fleet
    ``BREEZE_KEY_LOOKUPS_GLOBAL_PER_MINUTE`` (real keys are remembered for an hour, so a real
    client needs one now and then), so a flood of made-up keys, from one address or many, is
    refused before the database."""
    window = quota.window_of(plan.now)
    who = plan.source_ip or "unknown"
    _, (mine, everyone) = store.exchange(
        counters=[
            (f"key-lookups:{who}:{window}", quota.COUNTER_TTL_S),
            (f"key-lookups:all:{window}", quota.COUNTER_TTL_S),
        ]
    )
    if (
        mine > settings.BREEZE_KEY_LOOKUPS_PER_MINUTE
        or everyone > settings.BREEZE_KEY_LOOKUPS_GLOBAL_PER_MINUTE
    ):
        raise errors.ClientKeyLookupsLimited(retry_after=quota.reset_s(plan.now))


def _check_origin(record: KeyRecord | None, origin: str | None) -> None:
    """A key with an origin list is a browser key: it is only good from those origins, and a
    request without an ``Origin`` header did not come from a browser page it trusts."""
    if record is None or not record.origins:
        return
    if origin is None or normalize_origin(origin) not in record.origins:
        raise errors.OriginNotAllowed()


def _note_used(key_id: int) -> None:
    try:
        client_key_mark_used(key_id=key_id)
    except Exception:  # a bookkeeping write must never fail the request
        logger.exception("could not note a client key's use")
