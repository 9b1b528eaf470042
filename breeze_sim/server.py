"""HTTP transport of the simulator: routing, Breeze auth checks, faults and the control API.

Upstream routes (what the unmodified SDK calls):
  GET /breezeapi/api/v1/{customerdetails,quotes,historicalcharts,optionchain}  (JSON body)
  GET /api/v2/historicalcharts?...                                             (query string)
  GET /MotherAppMaster/SecurityMaster.zip
Control routes (not counted, not rate limited), so a simulator in another process can be driven:
  POST /__sim__/sessions, POST /__sim__/expire, POST|DELETE /__sim__/faults, GET /__sim__/stats,
  POST /__sim__/reset, POST /__sim__/config, GET /__sim__/health,
  GET|POST|DELETE /__sim__/stream (the socket.io live feed of ``livestream.py``)

The server speaks HTTP/1.1 with exact Content-Length so clients keep connections alive, and it
reads request bodies of GET requests (the SDK sends market-data requests as GET with a body).
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from . import endpoints
from . import protocol as p
from .instruments import DEFAULT_MASTER_SIZE, MASTER_SIZES, Universe
from .market_time import system_clock, to_ist_naive
from .security_master import security_master_zip
from .state import USER_ID, Fault, SimState
from .universe import universe_for

if TYPE_CHECKING:
    from .livestream import LiveStreamServer

DEFAULT_API_KEY = "sim-api-key"
DEFAULT_API_SECRET = "sim-api-secret"

API_PREFIX = "/breezeapi/api/v1/"
V2_PREFIX = "/api/v2/"
ROUTES = {
    API_PREFIX + "customerdetails": "customerdetails",
    API_PREFIX + "quotes": "quotes",
    API_PREFIX + "historicalcharts": "historicalcharts",
    API_PREFIX + "optionchain": "optionchain",
    V2_PREFIX + "historicalcharts": "historicalcharts_v2",
}
ZIP_PATHS = ("/MotherAppMaster/SecurityMaster.zip", "/NewSecurityMaster/SecurityMaster.zip")
CONTROL_PREFIX = "/__sim__/"
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sim: SimulatorServer) -> None:
        self.sim = sim
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, BreezeHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        # Headers and body go out as two writes; without NODELAY, Nagle plus the client's
        # delayed ACK would add ~40 ms to every keep-alive response.
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sim._track(conn)
        return conn, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients vanishing mid-request is routine here (drop/hang faults, timeouts).
        if self.sim.log_requests:
            super().handle_error(request, client_address)


class BreezeHandler(BaseHTTPRequestHandler):
    """One connection; handles every request sent on it (keep-alive)."""

    protocol_version = "HTTP/1.1"
    server_version = "BreezeSim/1.0"
    sys_version = ""
    timeout = 300  # idle keep-alive connections are closed after this many seconds
    server: _HTTPServer

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sim._untrack(self.connection)

    # ------------------------------------------------------------------ plumbing

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: one line per request is written by ``_log`` instead."""

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sim.log_requests:
            sys.stderr.write(f"breeze_sim {self.address_string()} {format % args}\n")
            sys.stderr.flush()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self._http_status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, payload: Any, status: int = 200, *, sort_keys: bool = False) -> None:
        if isinstance(payload, dict) and "Status" in payload:
            self._breeze_status = payload.get("Status")
        self._send(status, p.dumps(payload, sort_keys=sort_keys), JSON_TYPE)

    def _log(self, label: str, started: float) -> None:
        if not self.server.sim.log_requests:
            return
        path = urlsplit(self.path).path
        status = getattr(self, "_http_status", "-")
        breeze = getattr(self, "_breeze_status", None)
        extra = f" Status={breeze}" if breeze is not None else ""
        elapsed = (time.perf_counter() - started) * 1000
        self.log_message(
            '"%s %s" %s %s%s %.1fms', self.command, path, status, label, extra, elapsed
        )

    # ------------------------------------------------------------------ routing

    def _dispatch(self) -> None:
        started = time.perf_counter()
        raw = self._read_body()
        split = urlsplit(self.path)
        path = split.path
        label = "-"
        try:
            if path.startswith(CONTROL_PREFIX):
                label = "control"
                self._control(path[len(CONTROL_PREFIX) :].strip("/"), raw)
            elif path in ZIP_PATHS:
                label = "security_master"
                if self.command != "GET":
                    self._send_json(p.error(p.ERR_METHOD, 405), 405)
                else:
                    sim = self.server.sim
                    payload = security_master_zip(sim.now().date(), sim.master_size)
                    self._send(200, payload, "application/zip")
            elif path in ROUTES:
                label = ROUTES[path]
                if self.command != "GET":
                    self._send_json(p.error(p.ERR_METHOD, 405), 405)
                else:
                    self._api(label, raw, split.query)
            else:
                self._send_json(p.error(p.ERR_NOT_FOUND, 404), 404)
        finally:
            self._log(label, started)

    # ------------------------------------------------------------------ Breeze API

    def _api(self, endpoint: str, raw: bytes, query: str) -> None:
        sim = self.server.sim
        state = sim.state
        state.record_call(endpoint)
        fault = state.take_fault(endpoint)
        if fault is not None and self._apply_fault(fault, endpoint):
            return
        if state.latency_ms:
            sim._sleep(state.latency_ms / 1000)
        now = sim.now()
        sort_keys = endpoint == "historicalcharts_v2"
        try:
            payload = self._answer(endpoint, raw, query, now)
        except Exception as exc:  # a simulator bug must still answer in Breeze's shape
            if sim.log_requests:
                import traceback

                traceback.print_exc()
            payload = p.error(p.ERR_INTERNAL.format(detail=f"{type(exc).__name__}: {exc}"))
        self._send_json(payload, sort_keys=sort_keys)

    def _rate_refusal(self, app_key: str, now: datetime) -> dict[str, Any] | None:
        refused = self.server.sim.state.rate_check(app_key, now.date())
        if refused == "minute":
            return p.error(p.ERR_RATE_MINUTE, p.STATUS_RATE_LIMITED)
        if refused == "day":
            return p.error(p.ERR_RATE_DAY, p.STATUS_RATE_LIMITED)
        return None

    def _session_refusal(self, now: datetime) -> dict[str, Any] | None:
        decoded = p.decode_session_token(self.headers.get("X-SessionToken"))
        if decoded is None:
            return p.error(p.ERR_INVALID_SESSION)
        outcome = self.server.sim.state.check_session_key(decoded[0], decoded[1], now.date())
        if outcome == "invalid":
            return p.error(p.ERR_INVALID_SESSION)
        if outcome == "expired":
            return p.error(p.ERR_EXPIRED)
        return None

    def _answer(self, endpoint: str, raw: bytes, query: str, now: datetime) -> dict[str, Any]:
        state = self.server.sim.state
        if endpoint == "customerdetails":
            body = p.parse_json_object(raw)
            app_key = str(body.get("AppKey") or "") if body else ""
            refusal = self._rate_refusal(app_key, now)
            if refusal:
                return refusal
            if body is None:
                return p.error(p.ERR_BAD_BODY)
            if app_key != state.api_key:
                return p.error(p.ERR_PUBLIC_KEY)
            outcome, key = state.exchange(str(body.get("SessionToken") or ""), now.date())
            if outcome == "invalid":
                return p.error(p.ERR_INVALID_SESSION)
            if outcome == "expired":
                return p.error(p.ERR_EXPIRED)
            if outcome == "used" or key is None:
                return p.error(p.ERR_REQUEST_NULL)
            token = p.encode_session_token(USER_ID, key)
            return p.envelope(endpoints.customer_success(token, now))

        if endpoint == "historicalcharts_v2":
            app_key = self.headers.get("apikey", "")
            refusal = self._rate_refusal(app_key, now)
            if refusal:
                return refusal
            if app_key != state.api_key:
                return p.error(p.ERR_PUBLIC_KEY)
            refusal = self._session_refusal(now)
            if refusal:
                return refusal
            params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
            return endpoints.history_v2(params, now, self.server.sim.universe(now))

        app_key = self.headers.get("X-AppKey", "")
        refusal = self._rate_refusal(app_key, now)
        if refusal:
            return refusal
        if app_key != state.api_key:
            return p.error(p.ERR_PUBLIC_KEY)
        if not p.checksum_ok(
            self.headers.get("X-Checksum"), self.headers.get("X-Timestamp"), raw, state.api_secret
        ):
            return p.error(p.ERR_CHECKSUM)
        refusal = self._session_refusal(now)
        if refusal:
            return refusal
        body = p.parse_json_object(raw)
        if body is None:
            return p.error(p.ERR_BAD_BODY)
        universe = self.server.sim.universe(now)
        if endpoint == "quotes":
            return endpoints.quotes(body, now, universe)
        if endpoint == "optionchain":
            return endpoints.option_chain(body, now, universe)
        return endpoints.history_v1(body, now, universe)

    # ------------------------------------------------------------------ faults

    def _apply_fault(self, fault: Fault, endpoint: str) -> bool:
        """Act out ``fault``; True when the request has been fully dealt with."""
        sim = self.server.sim
        mode = fault.mode
        sort_keys = endpoint == "historicalcharts_v2"
        if mode == "latency":
            sim._sleep(fault.latency_ms / 1000)
            return False
        if mode == "http_error":
            self._send(fault.status, p.HTML_UNAVAILABLE.encode("utf-8"), HTML_TYPE)
        elif mode == "non_json":
            self._send(200, p.HTML_UNAVAILABLE.encode("utf-8"), HTML_TYPE)
        elif mode == "hang":
            self._hang()
        elif mode == "drop":
            self._drop()
        elif mode == "rate_limit":
            sim.state.note_rate_limited()
            payload = p.error(p.ERR_RATE_MINUTE, p.STATUS_RATE_LIMITED)
            self._send_json(payload, sort_keys=sort_keys)
        elif mode == "expired":
            self._send_json(p.error(p.ERR_EXPIRED), sort_keys=sort_keys)
        elif mode == "breeze_error":
            self._send_json(p.error(p.ERR_SERVICE), sort_keys=sort_keys)
        self._fault_label = mode
        return True

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _hang(self) -> None:
        """Never answer: wait until the client goes away or the simulator stops."""
        self.close_connection = True
        sock = self.connection
        stopping = self.server.sim._stopping
        while not stopping.is_set():
            try:
                readable, _w, _x = select.select([sock], [], [], 0.05)
                if readable and not sock.recv(1, socket.MSG_PEEK):
                    return  # orderly close by the client
            except (OSError, ValueError):
                return
            if readable:
                stopping.wait(0.05)  # pipelined bytes: keep ignoring them

    # ------------------------------------------------------------------ control API

    def _control(self, action: str, raw: bytes) -> None:
        sim = self.server.sim
        body = p.parse_json_object(raw) if raw.strip() else {}
        if body is None:
            self._send_json({"error": "body must be a JSON object"}, 400)
            return
        method = self.command
        try:
            if action == "health" and method == "GET":
                result: Any = {"ok": True}
            elif action == "sessions" and method == "POST":
                result = {"api_session": sim.issue_session(body.get("token"))}
            elif action == "expire" and method == "POST":
                sim.expire_sessions()
                result = {"ok": True}
            elif action == "faults" and method == "POST":
                sim.set_fault(
                    str(body.get("mode", "")),
                    endpoints=body.get("endpoints"),
                    count=body.get("count"),
                    latency_ms=int(body.get("latency_ms") or 0),
                    status=int(body.get("status") or 503),
                )
                result = {"ok": True, "faults": sim.stats()["faults"]}
            elif action == "faults" and method == "DELETE":
                sim.clear_faults()
                result = {"ok": True}
            elif action == "stats" and method == "GET":
                result = sim.stats()
            elif action == "reset" and method == "POST":
                sim.reset()
                result = {"ok": True}
            elif action == "config" and method == "POST":
                result = sim.configure(
                    latency_ms=body.get("latency_ms"),
                    rate_per_min=body.get("rate_per_min"),
                    rate_per_day=body.get("rate_per_day"),
                )
            elif action == "stream" and method == "GET":
                result = sim.stream_stats()
            elif action == "stream" and method == "POST":
                # {"fault": "drop"|"reject_auth"|"silent"|"expire"}, {"tick_rate": 2},
                # {"jitter": false}, or several of them at once
                if "tick_rate" in body or "jitter" in body:
                    jitter = body.get("jitter")
                    sim.configure_stream(
                        tick_rate=body.get("tick_rate"),
                        jitter=None if jitter is None else bool(jitter),
                    )
                if body.get("fault"):
                    sim.stream_fault(str(body["fault"]))
                result = sim.stream_stats()
            elif action == "stream" and method == "DELETE":
                sim.clear_stream_faults(body.get("fault") or None)
                result = sim.stream_stats()
            else:
                self._send_json({"error": f"no control action {method} {action!r}"}, 404)
                return
        except (TypeError, ValueError) as exc:
            self._send_json({"error": str(exc)}, 400)
            return
        self._send_json(result)


class SimulatorServer:
    """A local Breeze REST simulator serving over real HTTP in a background thread.

    ``clock`` (optional, for tests) returns the current time; naive values are read as IST.
    ``log_requests`` writes one line per request to stderr (``python -m breeze_sim`` turns it on).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = DEFAULT_API_KEY,
        api_secret: str = DEFAULT_API_SECRET,
        rate_per_min: int = 100,
        rate_per_day: int = 5000,
        latency_ms: int = 0,
        single_use_sessions: bool = False,
        *,
        clock: Callable[[], datetime] | None = None,
        log_requests: bool = False,
        stream_port: int | None = None,
        tick_rate: float = 1.0,
        stream_jitter: bool = True,
        master_size: str = DEFAULT_MASTER_SIZE,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.log_requests = log_requests
        # Live feed (socket.io, livestream.py): None = off; 0 = a free port.
        self._stream_port = stream_port
        self._tick_rate = float(tick_rate)
        self._stream_jitter = bool(stream_jitter)
        self._stream: LiveStreamServer | None = None
        # SecurityMaster.zip and the instrument universe: "small" (named instruments) or
        # "full" (plus ~8,200 synthetic equities and ~100,000 NFO contracts, for benchmarks).
        if master_size not in MASTER_SIZES:
            raise ValueError(f"master_size must be one of {MASTER_SIZES}, not {master_size!r}")
        self.master_size = master_size
        self.state = SimState(
            api_key=api_key,
            api_secret=api_secret,
            rate_per_min=rate_per_min,
            rate_per_day=rate_per_day,
            latency_ms=latency_ms,
            single_use_sessions=single_use_sessions,
        )
        self._clock = clock or system_clock
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SimulatorServer:
        """Bind and serve in a daemon thread; returns self (``sim = SimulatorServer().start()``)."""
        if self._httpd is not None:
            raise RuntimeError("simulator already started")
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"breeze-sim-{self.port}",
            daemon=True,
        )
        self._thread.start()
        if self._stream_port is not None:
            from .livestream import LiveStreamServer  # lazy: REST-only users never load uvicorn

            self._stream = LiveStreamServer(
                self,
                host=self.host,
                port=self._stream_port,
                tick_rate=self._tick_rate,
                jitter=self._stream_jitter,
            )
            try:
                self._stream.start()
            except BaseException:
                self.stop()
                raise
        return self

    def stop(self) -> None:
        """Stop serving, close every socket and release hanging handlers (well under 1 s)."""
        httpd = self._httpd
        if httpd is None:
            return
        if self._stream is not None:
            self._stream.stop()
        self._stopping.set()
        httpd.shutdown()
        with self._sockets_lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=1)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        if self._httpd is None:
            return self._requested_port
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    @property
    def api_v2_url(self) -> str:
        return self.url + V2_PREFIX

    @property
    def security_master_url(self) -> str:
        return self.url + ZIP_PATHS[0]

    @property
    def stream_port(self) -> int | None:
        """Port of the live feed (None when the simulator was built without ``stream_port``)."""
        if self._stream is not None and self._stream.running:
            return self._stream.port
        return self._stream_port

    @property
    def live_stream_url(self) -> str | None:
        """``config.LIVE_STREAM_URL`` for the SDK (``http://127.0.0.1:<port>``), or None if off."""
        if self._stream is None or not self._stream.running:
            return None
        return self._stream.url

    # ------------------------------------------------------------------ control

    def universe(self, now: datetime | None = None) -> Universe:
        """The instruments listed on the IST day of ``now`` (default: the simulator's now)."""
        return universe_for((now or self.now()).date(), self.master_size)

    def now(self) -> datetime:
        """The simulator's current IST wall-clock time (naive)."""
        return to_ist_naive(self._clock())

    def issue_session(self, token: str | None = None) -> str:
        """Simulate a person's daily browser login: register an api_session for customerdetails.

        A random 8-digit token is used when none is given. Sessions expire at midnight IST.
        """
        return self.state.issue_session(None if token is None else str(token), self.now().date())

    def expire_sessions(self) -> None:
        """Every issued api_session and every derived session key now answers as expired."""
        self.state.expire_sessions()

    def set_fault(
        self,
        mode: str,
        *,
        endpoints: Iterable[str] | None = None,
        count: int | None = None,
        latency_ms: int = 0,
        status: int = 503,
    ) -> None:
        """Inject a failure for the next ``count`` matching calls (all calls when None)."""
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        self.state.add_fault(
            Fault(
                mode=mode,
                endpoints=frozenset(endpoints) if endpoints is not None else None,
                remaining=None if count is None else int(count),
                latency_ms=int(latency_ms),
                status=int(status),
            )
        )

    def clear_faults(self) -> None:
        self.state.clear_faults()

    def configure(
        self,
        *,
        latency_ms: int | None = None,
        rate_per_min: int | None = None,
        rate_per_day: int | None = None,
    ) -> dict[str, int]:
        """Change global latency and rate limits at run time; returns the new values."""
        return self.state.configure(
            latency_ms=latency_ms, rate_per_min=rate_per_min, rate_per_day=rate_per_day
        )

    def stats(self) -> dict[str, Any]:
        stats = self.state.stats()
        stats["stream"] = self.stream_stats()
        return stats

    def reset(self) -> None:
        """Clear faults, statistics and rate counters; issued sessions are kept."""
        self.state.reset()
        if self._stream is not None:
            self._stream.reset_stats()

    # ------------------------------------------------------------------ live feed

    def _live_stream(self) -> LiveStreamServer:
        if self._stream is None or not self._stream.running:
            raise ValueError("the live feed is off: start the simulator with stream_port=0")
        return self._stream

    def stream_fault(self, mode: str) -> None:
        """Live-feed fault: "drop" (abort every connection now; clients may reconnect),
        "reject_auth" / "silent" (refuse connects / send no ticks until cleared), "expire"
        (expire every session like ``expire_sessions`` and disconnect their sockets)."""
        self._live_stream().fault(mode)

    def clear_stream_faults(self, mode: str | None = None) -> None:
        """Clear "reject_auth" and/or "silent" (all when ``mode`` is None)."""
        self._live_stream().clear_faults(mode)

    def configure_stream(
        self, *, tick_rate: float | None = None, jitter: bool | None = None
    ) -> dict[str, Any]:
        """Ticks per second per subscribed feed (0 pauses) and price jitter, at run time."""
        result = self._live_stream().configure(tick_rate=tick_rate, jitter=jitter)
        self._tick_rate, self._stream_jitter = result["tick_rate"], result["jitter"]
        return result

    def stream_stats(self) -> dict[str, Any]:
        if self._stream is None:
            return {"enabled": False}
        return self._stream.stats()

    # ------------------------------------------------------------------ internals

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _track(self, sock: socket.socket) -> None:
        self.state.record_connection()
        with self._sockets_lock:
            self._sockets.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._sockets_lock:
            self._sockets.discard(sock)


def dump_json(payload: Any) -> str:
    """Pretty JSON for humans (used by ``__main__`` diagnostics)."""
    return json.dumps(payload, indent=2, sort_keys=True)
