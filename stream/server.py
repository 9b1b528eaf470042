"""The Socket.IO server at ``/socket.io/``: the seed frontend's events and the native protocol.

Seed frontend (kept from the Flask proxy):

* emit ``subscribe_to_watchlist {stocks: ["NIFTY", "RELIANCE", ...], proxy_key}``: the watchlist
  (it replaces the previous one); every tick then arrives as ``watchlist_update``; problems as
  ``watchlist_error {error, code, symbol?}``.

Native protocol (README, "Live stream"):

* connect with ``auth {key}``; ``status`` events (``live``, ``reconnecting``, ``stale``,
  ``session_expired``, ``session_renewed``, ``idle``) say how the feed is;
* ``subscribe {instruments: [{symbol | stock_code, exchange_code, product_type, expiry_date,
  strike_price, right, id?}], depth: bool, batch?: bool}`` → ``tick`` (and, with depth,
  ``depth``: five levels) events, each with the instrument's ``id``, a per-instrument ``seq`` and
  the exchange time; the acknowledgement lists what was subscribed and what was refused. With
  ``batch: true`` (for the whole connection) they arrive instead as one ``ticks`` event per
  round, ``[[event, data], ...]``;
* ``unsubscribe {ids: [...]}`` (or ``{all: true}``).

A key is checked exactly as REST checks it (scope ``stream``, origins, quota: each subscribe
counts as a request). Without ``BREEZE_REQUIRE_CLIENT_KEY`` (the embedded default) no key is
needed. Per key, across the fleet: ``BREEZE_STREAM_MAX_CONNECTIONS_PER_KEY`` connections and
``BREEZE_STREAM_MAX_SUBSCRIPTIONS_PER_KEY`` instruments.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import socketio
from django.conf import settings

from access.models import normalize_origin
from access.principals import AdminPrincipal, AnonymousClient, ClientPrincipal, Principal
from breeze.errors import ProxyError
from common.network import client_ip
from stream import lookups, snapshots
from stream.hub import COMPAT, NATIVE, Client, Interest, packet_for
from stream.lookups import Wanted
from stream.service import Stream

logger = logging.getLogger("stream")

MAX_EVENT_BYTES = 64 * 1024


def _key_id(principal: Principal) -> str:
    if isinstance(principal, ClientPrincipal):
        return f"key:{principal.key_id}"
    if isinstance(principal, AdminPrincipal):
        return "admin"
    if isinstance(principal, AnonymousClient):
        return f"anon:{principal.address}"
    return "unknown"


def _origin_allowed(origin: str | None, environ: dict[str, Any]) -> bool:
    """Browsers' origins as REST's CORS allows them (any in DEBUG or the sandbox); clients
    without an Origin header (servers, scripts) are not browsers and pass."""
    if not origin:
        return True
    if settings.CORS_ALLOW_ALL_ORIGINS or settings.BREEZE_SANDBOX:
        return True
    allowed = {normalize_origin(o) for o in settings.CORS_ALLOWED_ORIGINS}
    return normalize_origin(origin) in allowed


def build_server() -> tuple[socketio.AsyncServer, Stream]:
    manager = None
    if settings.REDIS_URL:
        manager = socketio.AsyncRedisManager(
            settings.REDIS_URL, channel=f"{settings.SHARED_STATE_NAMESPACE}:socketio"
        )
    sio = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        cors_allowed_origins=_origin_allowed,
        max_http_buffer_size=MAX_EVENT_BYTES,
        logger=False,
        engineio_logger=False,
    )
    stream = Stream(sio)
    Handlers(sio, stream).register()
    return sio, stream


class Handlers:
    def __init__(self, sio: socketio.AsyncServer, stream: Stream) -> None:
        self.sio = sio
        self.stream = stream
        self.hub = stream.hub

    def register(self) -> None:
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)
        self.sio.on("subscribe_to_watchlist", self.subscribe_to_watchlist)
        self.sio.on("subscribe", self.subscribe)
        self.sio.on("unsubscribe", self.unsubscribe)

    # --- connection ------------------------------------------------------------------------

    async def connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        raw_key = ""
        if isinstance(auth, dict):
            raw_key = str(auth.get("key") or auth.get("proxy_key") or "")[:200]
        raw_key = raw_key or environ.get("HTTP_X_PROXY_KEY", "")[:200]
        source_ip = client_ip(SimpleNamespace(META=environ))  # type: ignore[arg-type]
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, "/")
        client = Client(
            sid=sid,
            eio_sid=eio_sid,
            key_id=f"pending:{source_ip}",
            source_ip=source_ip,
            origin=environ.get("HTTP_ORIGIN"),
        )
        if raw_key or not settings.BREEZE_REQUIRE_CLIENT_KEY:
            try:
                await self._authenticate(client, raw_key)
            except ProxyError as exc:
                raise socketio.exceptions.ConnectionRefusedError(exc.envelope()) from exc
        self.hub.add_client(client)
        self.stream.send(client, "status", self.stream.feed_status)

    async def _authenticate(self, client: Client, raw_key: str) -> None:
        principal = await lookups.run(
            lookups.admit,
            raw_key,
            source_ip=client.source_ip,
            origin=client.origin,
        )
        key_id = _key_id(principal)
        connections, _ = self.stream.key_totals(key_id)
        if (
            client.principal is None
            and connections >= settings.BREEZE_STREAM_MAX_CONNECTIONS_PER_KEY
        ):
            raise StreamLimit(
                "stream_connections_limited",
                f"This key already holds {connections} live stream connections "
                f"(BREEZE_STREAM_MAX_CONNECTIONS_PER_KEY).",
            )
        client.principal, client.key_id = principal, key_id
        client.account = getattr(principal, "account", None)

    async def disconnect(self, sid: str, *_reason: Any) -> None:
        self.hub.remove_client(sid)

    # --- seed frontend ---------------------------------------------------------------------

    async def subscribe_to_watchlist(self, sid: str, data: Any = None) -> dict[str, Any]:
        client = self.hub.clients.get(sid)
        if client is None:
            return {"error": "not connected"}
        if not isinstance(data, dict):
            return self._watchlist_error(client, "Send {stocks: [...], proxy_key}.", "bad_request")
        raw_key = str(data.get("proxy_key") or "")[:200]
        if raw_key and (client.principal is None or settings.BREEZE_REQUIRE_CLIENT_KEY):
            try:
                await self._authenticate(client, raw_key)
            except ProxyError as exc:
                envelope = exc.envelope()
                return self._watchlist_error(client, envelope["message"], envelope["code"])
        if client.principal is None:
            return self._watchlist_error(
                client, "A client key is required: send it as proxy_key.", "client_key_required"
            )
        wanted, errors = await lookups.run(lookups.watchlist, data.get("stocks"))
        refused = self._over_limit(client, wanted, replacing=COMPAT)
        if refused:
            return self._watchlist_error(client, refused.message, refused.code)
        await self._describe(wanted)  # before the leader can hear of the feeds
        self.hub.unsubscribe(client, lambda interest: interest.protocol == COMPAT)
        for item in wanted:
            self.hub.subscribe(client, item.feed, Interest(COMPAT, item.ident, item.described))
        for error in errors:
            self.stream.send(client, "watchlist_error", error)
        session = await lookups.run(lookups.live_session)
        if session is None:
            self._watchlist_error(
                client, "No live Breeze session: staff must activate today's session.",
                "session_missing",
            )  # fmt: skip
        await self._snapshots(client, wanted, session, COMPAT)
        return {"subscribed": [w.ident for w in wanted], "errors": errors}

    def _watchlist_error(self, client: Client, message: str, code: str) -> dict[str, Any]:
        payload = {"error": message, "code": code}
        self.stream.send(client, "watchlist_error", payload)
        return payload

    # --- native protocol -------------------------------------------------------------------

    async def subscribe(self, sid: str, data: Any = None) -> dict[str, Any]:
        client = self.hub.clients.get(sid)
        if client is None:
            return {"error": "not connected"}
        if client.principal is None:
            return {"error": "Connect with auth {key} first.", "code": "client_key_required"}
        if not isinstance(data, dict):
            return {"error": "Send {instruments: [...], depth: bool}.", "code": "bad_request"}
        depth = data.get("depth") is True
        if isinstance(data.get("batch"), bool):
            self.hub.set_batch(client, data["batch"])
        wanted, errors = await lookups.run(
            lookups.instruments, data.get("instruments"), depth=depth
        )
        refused = self._over_limit(client, wanted, replacing=None)
        if refused:
            return {"error": refused.message, "code": refused.code}
        await self._describe(wanted)  # before the leader can hear of the feeds
        for item in wanted:
            interest = Interest(NATIVE, item.ident, item.described)
            self.hub.subscribe(client, item.feed, interest)
            if item.depth_feed:
                self.hub.subscribe(client, item.depth_feed, interest)
        session = await lookups.run(lookups.live_session)
        await self._snapshots(client, wanted, session, NATIVE)
        return {
            "subscribed": [
                {"id": w.ident, "instrument": w.described.instrument(), "depth": bool(w.depth_feed)}
                for w in wanted
            ],
            "errors": errors,
            "batch": client.batch,
        }

    async def unsubscribe(self, sid: str, data: Any = None) -> dict[str, Any]:
        client = self.hub.clients.get(sid)
        if client is None:
            return {"error": "not connected"}
        if isinstance(data, dict) and data.get("all") is True:
            left = self.hub.unsubscribe(client, lambda i: i.protocol == NATIVE)
        elif isinstance(data, dict) and isinstance(data.get("ids"), list):
            ids = {str(i) for i in data["ids"]}
            left = self.hub.unsubscribe(client, lambda i: i.protocol == NATIVE and i.ident in ids)
        else:
            return {"error": "Send {ids: [...]} or {all: true}.", "code": "bad_request"}
        return {"unsubscribed": len(left)}

    # --- shared ----------------------------------------------------------------------------

    def _over_limit(
        self, client: Client, wanted: list[Wanted], *, replacing: str | None
    ) -> StreamLimit | None:
        _, subscriptions = self.stream.key_totals(client.key_id)
        if replacing is not None:
            subscriptions -= sum(
                1 for found in client.interests.values() for i in found if i.protocol == replacing
            )
        adding = sum(2 if w.depth_feed else 1 for w in wanted)
        limit = settings.BREEZE_STREAM_MAX_SUBSCRIPTIONS_PER_KEY
        if subscriptions + adding > limit:
            return StreamLimit(
                "stream_subscriptions_limited",
                f"This key would listen to {subscriptions + adding} feeds; the limit is {limit} "
                "(BREEZE_STREAM_MAX_SUBSCRIPTIONS_PER_KEY).",
            )
        return None

    async def _describe(self, wanted: list[Wanted]) -> None:
        described = {w.feed: w.described.as_dict() for w in wanted}
        described.update({w.depth_feed: w.described.as_dict() for w in wanted if w.depth_feed})
        await self.stream.bus.describe_feeds(described)

    async def _snapshots(
        self, client: Client, wanted: list[Wanted], session: Any, protocol: str
    ) -> None:
        """Each instrument's current value at once: its last tick, else one REST quote."""
        feeds = [w.feed for w in wanted] + [w.depth_feed for w in wanted if w.depth_feed]
        last = await self.stream.bus.last_ticks(feeds)
        for item in wanted:
            interest = Interest(protocol, item.ident, item.described)
            if self.hub.got_live_tick(client, item.feed):
                continue  # a live tick got there first: a snapshot now would be older
            if item.feed in last:
                message = snapshots.from_last_tick(last[item.feed])
            elif session is not None:
                row = await lookups.run(lookups.rest_quote, item.contract, session, client.account)
                if row is None:
                    continue
                message = snapshots.from_rest_row(item.feed, row, item.described)
            else:
                continue
            if self.hub.got_live_tick(client, item.feed):
                continue  # the REST quote took longer than the first live tick
            self.hub.send_now(client, packet_for(message, interest, depth=False))
            if item.depth_feed and item.depth_feed in last:
                depth = snapshots.from_last_tick(last[item.depth_feed])
                self.hub.send_now(client, packet_for(depth, interest, depth=True))


class StreamLimit(ProxyError):
    """A per-key stream limit (connections or subscriptions) would be exceeded."""

    status_code = 429

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
