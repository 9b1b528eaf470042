"""gunicorn's threaded worker (gthread), changed in three ways for a service on the internet.

1. **A thread is never held by a request that has not fully arrived.** Stock gthread hands a
   connection to a pool thread as soon as it is readable; the thread then blocks in ``recv``
   until the rest of the request line, the headers and the body arrive. A client that sends
   part of a request and then trickles or stalls holds that thread for as long as it likes,
   and 80 such clients stop the instance (measured: ``GET /`` did not answer within 20 s with
   100 of them). Here the thread reads what has arrived without waiting: a complete request
   (the usual case, it arrives in one piece) is handled at once, parsed from memory; an
   incomplete one goes straight back to the worker's event loop, which reads the rest as it
   arrives (the head, and a body framed by ``Content-Length`` or chunks, up to
   ``MAX_REQUEST_BYTES``) and hands it to a thread once it is whole. A request not complete
   ``REQUEST_READ_TIMEOUT_S`` after its first byte is answered 408 and closed; an idle
   connection waits (without a thread) for ``keepalive`` seconds, as gthread's own do. A head
   that cannot fit in gunicorn's limits (``limit_request_line``, ``limit_request_fields``,
   ``limit_request_field_size``) or in :data:`MAX_HEAD_BYTES` is refused (414/431);
   ``Expect: 100-continue`` is answered here.

2. **Closing does not block the event loop.** gthread closes a connection gracefully
   (half-close, then read until the client closes, up to 2 s) on its event loop; a client
   that never closes its end stalls every other connection of the worker for those 2 s. Here
   that wait is one more connection in the poller.

3. **gunicorn's own error answers are the proxy's JSON envelope.** gunicorn answers what it
   refuses before Django runs (a request line or header over the limits, a malformed request)
   with an HTML page; here the same status goes out as
   ``{"error", "message", "details", "code"}`` (gunicorn still decides the status and logs the
   refusal), and one access line is written for it, as the proxy writes for every request.

Everything else is gthread's: keep-alive, pipelining, the graceful stop, ``max_requests``, the
heartbeat. TLS and cleartext HTTP/2 (neither is used behind Cloud Run's front end) bypass the
buffering and keep gthread's behaviour.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import selectors
import socket
import time
from functools import partial
from typing import Any

from gunicorn import util
from gunicorn.http.errors import NoMoreData
from gunicorn.http.message import DEFAULT_MAX_HEADERFIELD_SIZE, MAX_HEADERS, MAX_REQUEST_LINE
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.gthread import TConn, ThreadWorker

from breeze.errors import envelope

access_logger = logging.getLogger("breeze_proxy.access")

#: A request must be complete this long after its first byte (env ``REQUEST_READ_TIMEOUT_S``).
DEFAULT_REQUEST_READ_TIMEOUT_S = 30.0
_RECV_SIZE = 64 * 1024
#: The largest request head (request line and header fields) the worker reads: 431 beyond.
MAX_HEAD_BYTES = 64 * 1024
LINGER_S = 2.0  # as gunicorn's close_graceful
STOP_READ_S = 2.0  # once stopping, what a request being read still has to arrive
LINGER_BYTES = 64 * 1024
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_INCOMPLETE = object()  # a thread's answer: the request has not fully arrived yet

# What the proxy says for each status gunicorn may answer before the application runs.
_ANSWERS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request could not be understood."),
    403: ("permission_denied", "Forbidden."),
    408: ("request_timeout", "The request was not received in time."),
    414: ("request_line_too_long", "The request line is too long."),
    417: ("expectation_failed", "The Expect header is not supported."),
    431: ("request_header_too_large", "The request's headers are too large."),
    501: ("not_implemented", "The request's transfer coding is not supported."),
}
_INTERNAL = ("internal_error", "The proxy hit an internal error.")


def error_bytes(status: int, reason: str, *, details: Any = None) -> bytes:
    """A complete ``Connection: close`` HTTP/1.1 answer carrying the envelope."""
    code, message = _ANSWERS.get(status, _INTERNAL)
    body = json.dumps(envelope(message, code=code, details=details)).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def log_refusal(status: int, method: str = "", path: str = "", started: float = 0.0) -> None:
    """The access line of a request refused before Django ran (so the middleware did not)."""
    code = _ANSWERS.get(status, _INTERNAL)[0]
    access_logger.info(
        "request",
        extra={
            "method": method[:16],
            "path": path[:200],
            "status": status,
            "duration_ms": round((time.monotonic() - started) * 1000, 2) if started else 0.0,
            "cache": "",
            "code": code,
        },
    )


class ReadTimeout(NoMoreData, TimeoutError):
    """The request (or the rest of its body) did not arrive within the request's deadline."""


class DeadlineUnreader(SocketUnreader):
    """The parser's socket reader, bounded by one deadline for the whole request.

    The worker hands a thread only complete requests, so a thread reads from the socket only
    in the rare cases it cannot (a body larger than ``MAX_REQUEST_BYTES`` that the application
    reads anyway, pipelined requests); there, ``recv`` is bounded by the deadline, so it can
    never block a thread for longer.
    """

    deadline: float = 0.0

    def chunk(self, size_hint: int | None = None) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ReadTimeout()
        prior = self.sock.gettimeout()
        self.sock.settimeout(remaining if prior is None else min(prior, remaining))
        try:
            return super().chunk(size_hint)
        except TimeoutError as exc:
            raise ReadTimeout() from exc
        finally:
            self.sock.settimeout(prior)


class _Capture:
    """Stands in for the client socket while gunicorn writes its HTML error page, so that the
    status it chose can be sent as JSON instead."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.data += data

    def status(self) -> tuple[int, str]:
        line = self.data.split(b"\r\n", 1)[0].decode("latin-1")  # "HTTP/1.1 431 Reason"
        try:
            _, status, reason = line.split(" ", 2)
            return int(status), reason
        except ValueError:
            return 500, "Internal Server Error"


class _Limits:
    """gunicorn's request limits, normalised as its parser normalises them."""

    def __init__(self, cfg: Any, body_limit: int) -> None:
        line = cfg.limit_request_line
        self.line = MAX_REQUEST_LINE if line <= 0 or line >= MAX_REQUEST_LINE else line
        fields = cfg.limit_request_fields
        fields = MAX_HEADERS if fields <= 0 or fields > MAX_HEADERS else fields
        field_size = cfg.limit_request_field_size
        field_size = DEFAULT_MAX_HEADERFIELD_SIZE if field_size <= 0 else field_size
        headers = fields * (field_size + 2) + 4  # gunicorn's max_buffer_headers
        # The whole head, within gunicorn's limits and MAX_HEAD_BYTES: every connection the
        # worker reads holds its bytes in memory (gunicorn's limits alone allow 800 KB).
        self.head = min(self.line + 2 + headers, MAX_HEAD_BYTES)
        self.body = body_limit
        # Chunk framing costs a few bytes per chunk; a body framed far beyond its payload is
        # handed to the parser (which reads it under the deadline) rather than buffered here.
        self.framed_body = 2 * body_limit + 4096


def request_state(buf: bytes | bytearray, limits: _Limits) -> tuple[str, int]:
    """Where ``buf`` (the bytes of a request so far) stands.

    * ``("partial", 0)``: more must be read;
    * ``("complete", 0)``: the whole request (head and body) is in ``buf``;
    * ``("ready", 0)``: not complete, but a thread can take it without waiting for the client:
      gunicorn's parser refuses it from these bytes alone, or its body is over the limit and
      the application refuses it unread;
    * ``("continue", n)``: the head (``n`` bytes) asks for ``100 Continue`` before the client
      sends the body;
    * ``("refuse", status)``: the head cannot fit in the limits (414, or 431 past
      :data:`MAX_HEAD_BYTES` or gunicorn's header limits).
    """
    start = 2 if buf[:2] == b"\r\n" else 0  # RFC 9112 2.2: one empty line may come first
    line_end = buf.find(b"\r\n", start)
    if line_end < 0:
        if buf.find(b"\n", start) >= 0:
            return "ready", 0  # a bare LF: the parser refuses it
        return ("refuse", 414) if len(buf) - start - 2 > limits.line else ("partial", 0)
    if line_end - start > limits.line:
        return "ready", 0  # the parser answers 414 from these bytes
    head_end = buf.find(b"\r\n\r\n", line_end)
    if head_end < 0:
        if buf.count(b"\n", start) != buf.count(b"\r\n", start):
            return "ready", 0  # a bare LF: the parser refuses it
        return ("refuse", 431) if len(buf) - start > limits.head else ("partial", 0)
    if head_end + 4 - start > limits.head:
        return "refuse", 431
    head = bytes(buf[start:head_end])
    request_line, _, fields = head.partition(b"\r\n")
    length: int | None = None
    chunked = expect = False
    for field in fields.split(b"\r\n") if fields else ():
        name, colon, value = field.partition(b":")
        if not colon:
            return "ready", 0  # malformed: the parser answers 400
        name = name.strip().lower()
        if name == b"content-length":
            if length is not None or not value.strip().isdigit():
                return "ready", 0  # the parser answers 400
            length = int(value.strip())
        elif name == b"transfer-encoding":
            if value.strip().lower() != b"chunked":
                return "ready", 0  # the parser answers 400 or 501
            chunked = True
        elif name == b"expect":
            expect = True
    body_start = head_end + 4
    if chunked:
        if length is not None:
            return "ready", 0  # both: the parser answers 400
        state = _chunked_state(buf, body_start, limits)
    elif not length:
        return "complete", 0
    elif length > limits.body:
        return "ready", 0
    else:
        state = "complete" if len(buf) - body_start >= length else "partial"
    waits_for_continue = expect and request_line.endswith(b"HTTP/1.1")
    if state == "partial" and waits_for_continue and len(buf) == body_start:
        return "continue", body_start  # the client waits for 100 before it sends the body
    return state, 0


def _chunked_state(buf: bytes | bytearray, pos: int, limits: _Limits) -> str:
    """``complete`` once the last chunk and the trailers are in; ``ready`` when the body is
    over the limit or its framing is broken; else ``partial``."""
    body_start = pos
    decoded = 0
    while True:
        if decoded > limits.body or pos - body_start > limits.framed_body:
            return "ready"
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return "ready" if len(buf) - pos > 1024 else "partial"  # no chunk line is that long
        size_text = bytes(buf[pos:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return "ready"  # the parser answers 400
        if size == 0:
            trailers = line_end + 2
            if buf[trailers : trailers + 2] == b"\r\n" or buf.find(b"\r\n\r\n", trailers) >= 0:
                return "complete"
            return "ready" if len(buf) - trailers > limits.head else "partial"
        decoded += size
        pos = line_end + 2 + size + 2
        if pos > len(buf):
            return "ready" if decoded > limits.body else "partial"


def _without_expect(head: bytes) -> bytes:
    """The head without its ``Expect`` field (answered here with ``100 Continue`` already)."""
    lines = head.split(b"\r\n")
    kept = [line for line in lines if line.partition(b":")[0].strip().lower() != b"expect"]
    return b"\r\n".join(kept)


class BufferedConn(TConn):
    """gthread's connection, with the bytes of the request being read, and a close that does
    not block the worker's event loop."""

    def __init__(self, worker: BufferedThreadWorker, *args: Any) -> None:
        super().__init__(*args)
        self.worker = worker
        self.pending_bytes = bytearray()
        self.first_byte_at = 0.0  # when the first byte of the request being read arrived
        self.whole_request = True  # whether the request a thread took had fully arrived
        self.lingered = 0  # bytes read and dropped while closing

    def close(self, graceful: bool = False) -> None:
        """gthread closes gracefully (half-close, then read until the client closes, up to
        2 s) on its event loop, blocking it: 20 clients that never close their end after a
        ``Connection: close`` answer held every other client for 20 s (measured). The wait
        happens in the poller instead."""
        if graceful and self.worker.buffering:
            self.worker.linger(self)
        else:
            super().close(graceful)


class BufferedThreadWorker(ThreadWorker):
    """gthread, where a pool thread only ever handles a request that has fully arrived.

    A thread that takes a connection reads what the socket holds without waiting (as gthread's
    thread would read it, one ``recv`` for a request that arrives in one piece, which is the
    common case: no extra work on the event loop). If the request is not complete, the thread
    hands the connection straight back, and the event loop reads the rest as it arrives; once
    it is complete, a thread takes it again and finds it whole.
    """

    def init_process(self) -> None:
        self.read_timeout = float(
            os.environ.get("REQUEST_READ_TIMEOUT_S", DEFAULT_REQUEST_READ_TIMEOUT_S)
        )
        self.limits = _Limits(self.cfg, _body_limit())
        # The connections the event loop is reading a request from, and their deadlines.
        self.reading: dict[BufferedConn, float] = {}
        # Closed connections waiting (up to LINGER_S) for the client to close its end.
        self.lingering: dict[BufferedConn, float] = {}
        self.stop_deadline = 0.0  # set when the worker starts stopping
        # TLS and cleartext HTTP/2 read their first bytes in the thread (the handshake, the
        # preface): those keep gthread's path.
        self.buffering = not self.cfg.is_ssl and (
            "h2" not in self.cfg.http_protocols or self.cfg.http2_cleartext == "off"
        )
        super().init_process()

    def accept(self, listener: Any) -> None:
        """gthread's accept, making a :class:`BufferedConn`."""
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        client_sock.setblocking(True)
        conn = BufferedConn(self, self.cfg, client_sock, client_addr, listener.getsockname())
        self.enqueue_req(conn)

    # --- reading a request, without ever waiting for it in a thread -------------------------

    def _read(self, conn: BufferedConn) -> tuple[bool, str, int]:
        """Read what the socket holds, without waiting, until the request is complete (or
        cannot be); returns whether the client closed its end, and :func:`request_state`."""
        buf = conn.pending_bytes
        cap = self.limits.head + self.limits.framed_body + _RECV_SIZE
        state, value = request_state(buf, self.limits) if buf else ("partial", 0)
        while state == "partial" and len(buf) < cap:
            try:
                data = conn.sock.recv(_RECV_SIZE, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return False, state, value
            except OSError:
                return True, state, value
            if not data:
                return True, state, value
            if not conn.first_byte_at:
                conn.first_byte_at = time.monotonic()
            buf += data
            state, value = request_state(buf, self.limits)
        if state == "partial" and len(buf) >= cap:
            state = "ready"  # framing this large is the parser's to judge (under the deadline)
        return False, state, value

    def _expect_continue(self, conn: BufferedConn, head_length: int) -> None:
        """Answer ``100 Continue`` here, and drop the ``Expect`` field so that gunicorn does
        not send a second one once the body is in."""
        head = _without_expect(bytes(conn.pending_bytes[: head_length - 4]))
        conn.pending_bytes = bytearray(head + b"\r\n\r\n")
        _send_quietly(conn, _CONTINUE)

    def handle(self, conn: BufferedConn) -> Any:
        """In the pool thread. A complete request is parsed from memory, as gthread would have
        parsed it from the socket; an incomplete one goes back to the event loop at once."""
        if not self.buffering or conn.is_http2:
            return super().handle(conn)
        if conn.parser is not None:  # what the last request's thread read ahead (pipelining)
            conn.pending_bytes[:0] = conn.parser.unreader.take_buffered()
            if conn.pending_bytes and not conn.first_byte_at:
                conn.first_byte_at = time.monotonic()
        eof, state, value = self._read(conn)
        if state == "continue" and not eof:
            self._expect_continue(conn, value)
            return _INCOMPLETE
        if state == "refuse":
            self._refuse(conn, value, _reason(value))
            return False  # gthread closes the connection (in the poller: BufferedConn.close)
        if state == "partial" or (eof and state == "continue"):
            return False if eof else _INCOMPLETE
        # A request that is not complete but can be answered from what is here (refused by
        # the parser, or a body over the limit refused unread) is read further only under the
        # deadline, and its connection is not reused (_keepalive_after).
        conn.whole_request = state == "complete"
        conn.data_ready = True  # gthread's handle() must not wait for data
        conn.sock.setblocking(True)
        conn.init()  # the parser, as gthread's handle() makes it (no I/O without TLS)
        unreader = conn.parser.unreader
        if not isinstance(unreader, DeadlineUnreader):
            unreader.__class__ = DeadlineUnreader
        unreader.deadline = (conn.first_byte_at or time.monotonic()) + self.read_timeout
        unreader.unread(bytes(conn.pending_bytes))
        conn.pending_bytes = bytearray()
        conn.first_byte_at = 0.0
        return super().handle(conn)

    def finish_request(self, conn: BufferedConn, fs: Any) -> None:
        """On the event loop, when a thread is done: a request that has not fully arrived is
        read here, as it arrives, until it has."""
        if not fs.cancelled() and fs.exception() is None and fs.result() is _INCOMPLETE:
            deadline = (
                conn.first_byte_at + self.read_timeout
                if conn.first_byte_at
                else time.monotonic() + self.cfg.keepalive  # nothing yet: idle, as gthread's
            )
            self.reading[conn] = deadline
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, conn))
            return
        super().finish_request(conn, fs)

    def _readable(self, conn: BufferedConn, _sock: Any) -> None:
        eof, state, value = self._read(conn)
        if state == "continue" and not eof:
            self._expect_continue(conn, value)
            return
        if state == "partial" and not eof:
            if conn.first_byte_at:  # a request has begun: its own deadline from now on
                self.reading[conn] = conn.first_byte_at + self.read_timeout
            return
        self._leave_poller(conn)
        if state == "refuse":
            self._refuse(conn, value, _reason(value))
            self._close(conn, graceful=True)
        elif state == "partial" or state == "continue":
            self._close(conn)  # the client went away before finishing its request
        else:
            self.enqueue_req(conn)  # a thread takes it, and finds it whole

    def _leave_poller(self, conn: BufferedConn) -> None:
        if self.reading.pop(conn, None) is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.poller.unregister(conn.sock)

    def _close(self, conn: BufferedConn, *, graceful: bool = False) -> None:
        self.nr_conns -= 1
        conn.close(graceful)

    def _refuse(self, conn: BufferedConn, status: int, reason: str) -> None:
        """Answer a request that will not be read (the caller closes the connection)."""
        if status == 408:
            self.log.info("Request not complete in time from ip=%s", _peer(conn))
        else:
            self.log.warning("Invalid request from ip=%s: %s %s", _peer(conn), status, reason)
        method, path = _method_and_path(conn.pending_bytes)
        log_refusal(status, method=method, path=path, started=conn.first_byte_at)
        _send_quietly(conn, error_bytes(status, reason))

    def murder_pending(self) -> None:
        """Called by the event loop every second (and while stopping): also end the requests
        that missed their deadline, idle connections once the worker stops, and lingering
        closes past their time."""
        super().murder_pending()
        now = time.monotonic()
        if not self.alive and not self.stop_deadline:
            # Stopping (Cloud Run gives 10 s after SIGTERM): a request being read has
            # STOP_READ_S more to arrive, instead of its whole REQUEST_READ_TIMEOUT_S.
            self.stop_deadline = now + STOP_READ_S
        for conn, deadline in list(self.reading.items()):
            begun = bool(conn.pending_bytes)
            if self.stop_deadline:
                deadline = min(deadline, self.stop_deadline)
            if deadline <= now and begun:
                self._leave_poller(conn)
                self._refuse(conn, 408, "Request Timeout")
                self._close(conn, graceful=True)
            elif deadline <= now or (not self.alive and not begun):
                self._leave_poller(conn)
                self._close(conn)
        for conn, deadline in list(self.lingering.items()):
            if deadline <= now or not self.alive:
                self._end_linger(conn)

    def _keepalive_after(self, conn: BufferedConn, keepalive: bool) -> bool:
        """gthread drains a body the application left unread before reusing the connection,
        which a client trickling that body could stretch to 5 s of a thread. A request that
        was not read whole before a thread took it is not drained: the connection closes."""
        if keepalive and self.buffering and not conn.whole_request:
            return False
        return super()._keepalive_after(conn, keepalive)

    # --- closing without blocking the event loop --------------------------------------------

    def linger(self, conn: BufferedConn) -> None:
        """RFC 9112 9.6, as gunicorn's ``close_graceful``: half-close, then read and discard
        until the client closes (at most LINGER_S and LINGER_BYTES), so that unread request
        bytes do not make the kernel reset the connection over the answer. In the poller."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            util.close(conn.sock)
            return
        conn.lingered = 0
        self.lingering[conn] = time.monotonic() + LINGER_S
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._discard, conn))

    def _discard(self, conn: BufferedConn, _sock: Any) -> None:
        while conn.lingered < LINGER_BYTES:
            try:
                data = conn.sock.recv(_RECV_SIZE, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                break
            if not data:
                break
            conn.lingered += len(data)
        self._end_linger(conn)

    def _end_linger(self, conn: BufferedConn) -> None:
        if self.lingering.pop(conn, None) is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self.poller.unregister(conn.sock)
        util.close(conn.sock)

    # --- gunicorn's error answers as JSON --------------------------------------------------

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        capture = _Capture()
        started = time.monotonic()
        super().handle_error(req, capture, addr, exc)  # decides the status and logs it
        status, reason = capture.status()
        log_refusal(
            status,
            method=getattr(req, "method", "") or "",
            path=getattr(req, "path", "") or "",
            started=started,
        )
        try:
            util.write_nonblock(client, error_bytes(status, reason))
        except Exception:  # the client may be gone; gunicorn ignores it too
            self.log.debug("Failed to send error message.")


def _send_quietly(conn: TConn, data: bytes) -> None:
    with contextlib.suppress(OSError):  # small, and the socket's buffer is empty
        conn.sock.send(data, socket.MSG_DONTWAIT)


def _body_limit() -> int:
    try:
        from django.conf import settings

        return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    except Exception:  # no Django settings: the proxy's default
        return int(os.environ.get("MAX_REQUEST_BYTES", 64 * 1024))


def _reason(status: int) -> str:
    return {408: "Request Timeout", 414: "URI Too Long"}.get(
        status, "Request Header Fields Too Large"
    )


def _method_and_path(buf: bytes | bytearray) -> tuple[str, str]:
    """What the (partial) request line says, for the access line: ``("GET", "/x")``."""
    line = bytes(buf[:512]).lstrip(b"\r\n").split(b"\r\n", 1)[0].decode("latin-1")
    method, _, rest = line.partition(" ")
    target = rest.split(" ", 1)[0].split("?", 1)[0]
    return (method, target) if method.isalpha() and method.isupper() else ("", "")


def _peer(conn: TConn) -> str:
    client = conn.client
    return client[0] if isinstance(client, tuple) else str(client)
