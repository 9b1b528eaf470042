"""The proxy as production runs it: real gunicorn processes started with ``gunicorn.conf.py``
(its worker, ``breeze_proxy.gunicorn_worker.BufferedThreadWorker``, 2 workers x 40 threads with
Redis), spoken to over raw sockets, so that what gunicorn does before Django runs is covered:
chunked bodies, the request-head limits, clients that trickle or stall their requests.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from http import HTTPStatus

import pytest
import redis

from tests.multiprocess.conftest import REPO, ProxyInstance, proxy_env

pytestmark = [pytest.mark.multiprocess, pytest.mark.timeout(120)]

REDIS_DB = 12  # not 13/14/15 (other suites flush those)
ENVELOPE = {"error", "message", "details", "code"}


# --- a raw HTTP/1.1 client ----------------------------------------------------------------


class Answer:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> dict:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.headers}, {self.body[:300]!r})"


def read_answer(sock: socket.socket, buf: bytearray | None = None) -> Answer:
    """One final response from ``sock`` (1xx answers skipped); leftover bytes stay in ``buf``."""
    buf = bytearray() if buf is None else buf
    while True:
        while b"\r\n\r\n" not in buf:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError(f"closed before a response; got {bytes(buf)[:200]!r}")
            buf += data
        head, _, rest = bytes(buf).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        buf[:] = rest
        if 100 <= status < 200:
            continue
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return Answer(status, headers, _read_chunked(sock, buf))
        length = int(headers.get("content-length", "0"))
        _read_at_least(sock, buf, length)
        body = bytes(buf[:length])
        buf[:] = buf[length:]
        return Answer(status, headers, body)


def _read_at_least(sock: socket.socket, buf: bytearray, count: int) -> None:
    while len(buf) < count:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed in the middle of a response")
        buf += data


def _read_chunked(sock: socket.socket, buf: bytearray) -> bytes:
    body = bytearray()
    while True:
        while b"\r\n" not in buf:
            _read_at_least(sock, buf, len(buf) + 1)
        line, _, rest = bytes(buf).partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        buf[:] = rest
        _read_at_least(sock, buf, size + 2)
        body += buf[:size]
        buf[:] = buf[size + 2 :]
        if size == 0:
            return bytes(body)


def connect(proxy: ProxyInstance, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout)


def exchange(proxy: ProxyInstance, raw: bytes, timeout: float = 10.0) -> Answer:
    with connect(proxy, timeout) as sock:
        sock.sendall(raw)
        return read_answer(sock)


def chunked(body: bytes, size: int) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def post_head(path: str, *fields: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    return ("\r\n".join([*lines, *fields]) + "\r\n\r\n").encode()


def get_root(proxy: ProxyInstance, timeout: float = 20.0) -> float:
    """Milliseconds for one ``GET /`` on a new connection (what a probe or a new client does)."""
    started = time.perf_counter()
    answer = exchange(
        proxy, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeout
    )
    assert answer.status == HTTPStatus.OK
    return (time.perf_counter() - started) * 1000


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, round(len(ordered) * 0.99) - 1)]


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_state() -> Iterator[str]:
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail("Redis at 127.0.0.1:6379 is required (.ci/run starts it)")
    prefix = f"edges-{uuid.uuid4().hex[:8]}"
    yield prefix
    for key in client.scan_iter(match=f"*{prefix}*"):
        client.delete(key)


def _env(sim, prefix: str, **extra: str) -> dict[str, str]:
    return proxy_env(
        sim.url,
        prefix,
        REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
        CONN_MAX_AGE="0",
        BREEZE_TIMEOUT_S="2",
        **extra,
    )


@pytest.fixture(scope="module")
def proxy(sim, django_db_setup, django_db_blocker, shared_state, tmp_path_factory):
    """One instance exactly as configured for production (no worker or thread overrides)."""
    instance = ProxyInstance("edges", _env(sim, shared_state), tmp_path_factory.mktemp("gunicorn"))
    with django_db_blocker.unblock():
        instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def activated(proxy, sim, transactional_db):
    """A live session on the instance (tables are emptied after the test)."""
    answer = proxy.activate(sim.issue_session())
    assert answer.status_code == HTTPStatus.OK, answer.text
    return proxy


# --- 1. chunked request bodies ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/breeze/quotes", "/api/breeze/quotes", "/breeze/quotes/batch"])
def test_chunked_body_is_read(activated, path):
    payload = {"stock_code": "RELIND"}
    if path.endswith("batch"):
        payload = {"instruments": [payload]}
    body = json.dumps(payload).encode()

    answer = exchange(activated, post_head(path, "Transfer-Encoding: chunked") + chunked(body, 7))

    assert answer.status == HTTPStatus.OK, answer
    data = answer.json()
    rows = data["results"][0]["Success"] if path.endswith("batch") else data["Success"]
    assert rows[0]["stock_code"] == "RELIND"


def test_chunked_bodies_are_read_before_anything_reads_the_body():
    from django.conf import settings

    order = settings.MIDDLEWARE
    chunked = order.index("breeze_proxy.middleware.ChunkedBodyMiddleware")
    assert order.index("breeze_proxy.middleware.RequestContextMiddleware") < chunked
    for reader in (
        "market.front_door.FrontDoorMiddleware",  # request.body
        "django.middleware.csrf.CsrfViewMiddleware",  # request.POST on the admin pages
    ):
        assert chunked < order.index(reader), reader


def test_chunked_body_sent_in_separate_packets_is_read(activated):
    body = chunked(b'{"stock_code": "TCS"}', 5)
    with connect(activated) as sock:
        sock.sendall(post_head("/breeze/quotes", "Transfer-Encoding: chunked"))
        for index in range(0, len(body), 6):
            time.sleep(0.01)
            sock.sendall(body[index : index + 6])
        answer = read_answer(sock)

    assert answer.status == HTTPStatus.OK, answer
    assert answer.json()["Success"][0]["stock_code"] == "TCS"


@pytest.mark.parametrize("path", ["/breeze/quotes", "/breeze/quotes/batch", "/breeze/historical"])
def test_oversized_chunked_body_is_413_in_the_envelope(proxy, path, sim):
    calls = sim.stats()["total_calls"]
    body = json.dumps({"stock_code": "RELIND", "pad": "x" * 100_000}).encode()

    answer = exchange(proxy, post_head(path, "Transfer-Encoding: chunked") + chunked(body, 8192))

    assert answer.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE, answer
    assert answer.headers["content-type"] == "application/json"
    assert set(answer.json()) == ENVELOPE
    assert answer.json()["code"] == "request_too_large"
    assert sim.stats()["total_calls"] == calls


@pytest.mark.parametrize(
    "path", ["/breeze/quotes", "/breeze/option-chain", "/breeze/admin/api-session"]
)
def test_oversized_body_with_content_length_is_413_too(proxy, path):
    body = json.dumps({"stock_code": "RELIND", "pad": "x" * 100_000}).encode()

    answer = exchange(proxy, post_head(path, f"Content-Length: {len(body)}") + body)

    assert answer.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE, answer
    assert answer.json()["code"] == "request_too_large"


def test_broken_chunk_framing_is_400_in_the_envelope(proxy):
    raw = post_head("/breeze/quotes", "Transfer-Encoding: chunked") + b"zz\r\n{}\r\n0\r\n\r\n"

    answer = exchange(proxy, raw)

    assert answer.status == HTTPStatus.BAD_REQUEST, answer
    assert answer.json()["code"] == "bad_request"


def test_expect_100_continue_gets_continue_then_the_answer(activated):
    body = b'{"stock_code": "INFTEC"}'
    with connect(activated) as sock:
        sock.sendall(
            post_head("/breeze/quotes", f"Content-Length: {len(body)}", "Expect: 100-continue")
        )
        interim = sock.recv(100)
        sock.sendall(body)
        answer = read_answer(sock)

    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert answer.status == HTTPStatus.OK, answer
    assert answer.json()["Success"][0]["stock_code"] == "INFTEC"


def test_keep_alive_and_pipelined_requests_are_answered_in_order(proxy):
    one = b"GET /breeze/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    two = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with connect(proxy) as sock:
        buf = bytearray()
        sock.sendall(one)
        first = read_answer(sock, buf)
        sock.sendall(two + one[:20])  # a second request, and the start of a third
        second = read_answer(sock, buf)
        time.sleep(0.05)
        sock.sendall(one[20:])
        third = read_answer(sock, buf)

    assert [first.status, second.status, third.status] == [200, 200, 200]
    assert "session_active" in first.json()
    assert second.json()["service"] == "breeze-proxy"
    assert "session_active" in third.json()


# --- 2. request heads over gunicorn's limits ------------------------------------------------


def _head_case(name: str) -> bytes:
    if name == "request_line":
        return b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    if name == "field_size":
        return b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n"
    if name == "field_count":
        fields = b"".join(b"X-F%d: v\r\n" % i for i in range(101))
        return b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n"
    if name == "endless_head":  # never ends: refused as soon as it cannot fit
        return (
            b"GET / HTTP/1.1\r\n"
            + b"X-Pad: "
            + b"p" * 8000
            + b"\r\n" * 1
            + (b"X-More: " + b"m" * 8000 + b"\r\n") * 110
        )
    if name == "head_over_64k":  # each field within 8190 bytes, the whole head over 64 KiB
        fields = b"".join(b"X-F%d: " % i + b"v" * 8000 + b"\r\n" for i in range(9))
        return b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n"
    if name == "garbage":
        return b"\x16\x03\x01 not http at all\r\n\r\n"
    if name == "bad_header":
        return b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n"
    raise AssertionError(name)


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("request_line", 414, "request_line_too_long"),
        ("field_size", 431, "request_header_too_large"),
        ("field_count", 431, "request_header_too_large"),
        ("endless_head", 431, "request_header_too_large"),
        ("head_over_64k", 431, "request_header_too_large"),
        ("garbage", 400, "bad_request"),
        ("bad_header", 400, "bad_request"),
    ],
)
def test_requests_gunicorn_refuses_are_answered_in_the_envelope(proxy, case, status, code):
    raw = _head_case(case)
    with connect(proxy) as sock:
        # Refused before it was all sent, perhaps: the answer is there all the same.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(raw)
        answer = read_answer(sock)

    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"] == "close"
    assert set(answer.json()) == ENVELOPE
    assert answer.json()["code"] == code
    assert b"<html" not in answer.body


def test_limits_in_the_configuration_are_the_documented_ones(monkeypatch):
    import runpy

    monkeypatch.setenv("WEB_CONCURRENCY", "2")  # the file sets it when unset
    config = runpy.run_path(str(REPO / "gunicorn.conf.py"))

    assert config["limit_request_line"] == 4094
    assert config["limit_request_fields"] == 100
    assert config["limit_request_field_size"] == 8190
    assert config["worker_class"] == "breeze_proxy.gunicorn_worker.BufferedThreadWorker"


# --- 3. slow clients -----------------------------------------------------------------------


_SLOW_CLIENTS = r"""
import select, socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
socks = []
for index in range(count):
    sock = socket.create_connection(("127.0.0.1", port))
    if index % 2:  # inside the head
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    else:  # inside a body whose length was announced
        sock.sendall(
            b"POST /breeze/quotes HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"stock"
        )
    socks.append(sock)
print("ready", flush=True)
while True:
    ready, _, _ = select.select([sys.stdin], [], [], 1.0)
    alive = 0
    for sock in socks:  # one byte a second each
        try:
            sock.send(b"a")
            alive += 1
        except OSError:
            pass
    if ready:
        sys.stdin.readline()
        print(alive, flush=True)
"""


class SlowClients:
    """``count`` connections that each send part of a request and then trickle a byte a second
    (half stop inside the head, half inside a body), from their own process so that they do
    not share the measuring client's interpreter."""

    def __init__(self, proxy: ProxyInstance, count: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SLOW_CLIENTS, str(proxy.port), str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "ready"

    def still_open(self) -> int:
        self.process.stdin.write("check\n")
        self.process.stdin.flush()
        return int(self.process.stdout.readline())

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


def test_slow_clients_do_not_stall_the_instance(proxy, capsys):
    """100 clients trickling partial requests against the production configuration: without
    the buffering worker, all 80 threads block in recv and GET / waits forever (measured:
    not within 20 s); with it, its latency does not move."""
    for _ in range(50):
        get_root(proxy)
    idle = [get_root(proxy) for _ in range(300)]

    slow = SlowClients(proxy, 100)
    try:
        time.sleep(1.2)  # every slow client has trickled at least once
        loaded = [get_root(proxy, timeout=5) for _ in range(300)]
        still_open = slow.still_open()
    finally:
        slow.close()

    idle_p50, idle_p99 = percentiles(idle)
    loaded_p50, loaded_p99 = percentiles(loaded)
    with capsys.disabled():
        print(
            f"\nGET / on a new connection, production gunicorn config (n=300 each): "
            f"0 slow clients p50 {idle_p50:.2f} ms p99 {idle_p99:.2f} ms; "
            f"100 slow clients p50 {loaded_p50:.2f} ms p99 {loaded_p99:.2f} ms"
        )
    assert still_open == 100, "the slow clients were cut off, so nothing was measured"
    assert max(loaded) < 1000
    assert loaded_p50 < max(2 * idle_p50, idle_p50 + 5)
    assert loaded_p99 < max(3 * idle_p99, idle_p99 + 20)


@pytest.fixture(scope="module")
def tight(sim, django_db_setup, django_db_blocker, shared_state, tmp_path_factory):
    """A small instance (1 worker x 2 threads) with a 1 s request deadline."""
    env = _env(
        sim,
        shared_state,
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",
        REQUEST_READ_TIMEOUT_S="1",
    )
    instance = ProxyInstance("tight", env, tmp_path_factory.mktemp("gunicorn-tight"))
    with django_db_blocker.unblock():
        instance.start()
    yield instance
    instance.stop()


def test_two_threads_serve_while_ten_clients_stall(tight):
    stalled = []
    for _ in range(10):
        sock = connect(tight)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no end of head, ever
        stalled.append(sock)
    try:
        latencies = [get_root(tight, timeout=3) for _ in range(20)]
    finally:
        for sock in stalled:
            sock.close()

    assert max(latencies) < 500


def test_request_not_complete_in_time_is_408_in_the_envelope(tight):
    with connect(tight) as sock:
        started = time.monotonic()
        sock.sendall(post_head("/breeze/quotes", "Content-Length: 100") + b'{"stock_code"')
        answer = read_answer(sock)
        waited = time.monotonic() - started

    assert answer.status == HTTPStatus.REQUEST_TIMEOUT, answer
    assert answer.json()["code"] == "request_timeout"
    assert set(answer.json()) == ENVELOPE
    assert 0.9 <= waited < 3.5


def test_idle_connection_is_not_answered_408(tight):
    with connect(tight, timeout=2.5) as sock:
        with pytest.raises(TimeoutError):
            sock.recv(100)  # nothing sent, nothing answered (closed after keepalive)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = read_answer(sock)

    assert answer.status == HTTPStatus.OK


def test_clients_that_never_close_do_not_hold_the_main_loop(tight):
    """gthread closes a ``Connection: close`` connection gracefully on its main loop, reading
    until the client closes its end, for up to 2 s each: five clients that never do held every
    other request for ~10 s. Here the wait happens in the poller."""
    lingering = []
    for _ in range(5):
        sock = connect(tight)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        lingering.append(sock)  # never read, never closed (until the end of the test)
    try:
        time.sleep(0.2)
        latencies = [get_root(tight, timeout=15) for _ in range(10)]
    finally:
        for sock in lingering:
            sock.close()

    assert max(latencies) < 500, latencies


def test_refusal_reaches_a_client_that_is_still_sending(tight):
    """A head that cannot fit is refused while the client is still sending it; the answer is
    not lost to a connection reset (the close lingers, reading what still arrives)."""
    with connect(tight) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(120):
                sock.sendall(b"X-Pad: " + b"p" * 8000 + b"\r\n")
        answer = read_answer(sock)

    assert answer.status == HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
    assert answer.json()["code"] == "request_header_too_large"


def test_a_stopping_worker_does_not_wait_for_slow_clients(sim, shared_state, tmp_path):
    """SIGTERM (Cloud Run allows 10 s): requests being read get 2 s more, then 408; gthread
    waited the whole graceful_timeout (20 s) for threads stuck in recv."""
    env = _env(sim, shared_state, WEB_CONCURRENCY="1", GUNICORN_THREADS="2")
    instance = ProxyInstance("stopping", env, tmp_path).start()
    slow = []
    for _ in range(10):
        sock = connect(instance)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        slow.append(sock)
    try:
        time.sleep(0.3)
        started = time.monotonic()
        instance.process.send_signal(signal.SIGTERM)
        answer = read_answer(slow[0])
        instance.process.wait(timeout=15)
        stopped = time.monotonic() - started
    finally:
        for sock in slow:
            sock.close()
        instance.stop()

    assert answer.status == HTTPStatus.REQUEST_TIMEOUT
    assert answer.json()["code"] == "request_timeout"
    assert stopped < 6, stopped


# --- the worker's reading of a request, case by case ----------------------------------------


def _limits():
    from types import SimpleNamespace

    from breeze_proxy.gunicorn_worker import _Limits

    config = SimpleNamespace(
        limit_request_line=4094, limit_request_fields=100, limit_request_field_size=8190
    )
    return _Limits(config, body_limit=65536)


GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
POST = b"POST /breeze/quotes HTTP/1.1\r\nHost: x\r\n"


CHUNKED = POST + b"Transfer-Encoding: chunked\r\n\r\n"
EXPECT = POST + b"Content-Length: 2\r\nExpect: 100-continue\r\n\r\n"
STATES = {
    "nothing yet": (b"", ("partial", 0)),
    "part of the request line": (b"GET / HT", ("partial", 0)),
    "head without its end": (GET[:-2], ("partial", 0)),
    "GET": (GET, ("complete", 0)),
    "one empty line first": (b"\r\n" + GET, ("complete", 0)),
    "pipelined: the first is complete": (GET + b"GET /next", ("complete", 0)),
    "body not all here": (POST + b"Content-Length: 5\r\n\r\n{}", ("partial", 0)),
    "body all here": (POST + b'Content-Length: 5\r\n\r\n{"a"}', ("complete", 0)),
    "empty body": (POST + b"content-length: 0\r\n\r\n", ("complete", 0)),
    "body over the limit (413 unread)": (
        POST + b"Content-Length: 999999\r\n\r\n",
        ("ready", 0),
    ),
    "two lengths (400)": (
        POST + b"Content-Length: 1\r\nContent-Length: 1\r\n\r\n",
        ("ready", 0),
    ),
    "negative length (400)": (POST + b"Content-Length: -1\r\n\r\n", ("ready", 0)),
    "gzip transfer coding (501)": (POST + b"Transfer-Encoding: gzip\r\n\r\n", ("ready", 0)),
    "chunked, no chunk yet": (CHUNKED, ("partial", 0)),
    "chunked, one chunk": (CHUNKED + b"2\r\n{}\r\n", ("partial", 0)),
    "chunked, last chunk without the end": (CHUNKED + b"2\r\n{}\r\n0\r\n", ("partial", 0)),
    "chunked, complete": (CHUNKED + b"2\r\n{}\r\n0\r\n\r\n", ("complete", 0)),
    "chunked, extension and trailer": (
        CHUNKED + b"2;x=y\r\n{}\r\n0\r\nT: v\r\n\r\n",
        ("complete", 0),
    ),
    "chunked, bad size (400)": (CHUNKED + b"zz\r\n", ("ready", 0)),
    "chunked, over the limit (413)": (CHUNKED + b"20000\r\n" + b"x" * 100, ("ready", 0)),
    "chunked and a length (400)": (
        POST + b"Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
        ("ready", 0),
    ),
    "Expect: 100-continue": (EXPECT, ("continue", len(EXPECT))),
    "Expect, body under way": (EXPECT + b"{", ("partial", 0)),
    "bare LF (400)": (b"GET / HTTP/1.1\nHost: x\n\n", ("ready", 0)),
    "field without a colon (400)": (b"GET / HTTP/1.1\r\nNo colon\r\n\r\n", ("ready", 0)),
    "request line that cannot fit": (b"GET /" + b"a" * 5000, ("refuse", 414)),
    "request line too long, complete (414)": (
        b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n",
        ("ready", 0),
    ),
    "head over 64 KiB": (b"GET / HTTP/1.1\r\nX: " + b"y" * 70000, ("refuse", 431)),
}


@pytest.mark.parametrize("case", list(STATES))
def test_request_state(case):
    from breeze_proxy.gunicorn_worker import request_state

    data, state = STATES[case]

    assert request_state(data, _limits()) == state
