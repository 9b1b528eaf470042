"""Command line: ``python -m breeze_sim --port 8765`` runs a simulator until SIGTERM/SIGINT.

The live feed (socket.io) listens on ``--stream-port`` (8766; a free port when ``--port 0``).
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading

from .instruments import DEFAULT_MASTER_SIZE, MASTER_SIZES
from .server import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorServer

DEFAULT_STREAM_PORT = 8766


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m breeze_sim", description="Local ICICI Breeze REST simulator"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--api-secret", default=DEFAULT_API_SECRET)
    parser.add_argument("--latency-ms", type=int, default=0, help="latency added to every API call")
    parser.add_argument(
        "--demo-session",
        action="append",
        default=[],
        metavar="TOKEN",
        help="pre-issue this api_session (repeatable)",
    )
    parser.add_argument("--rate-per-min", type=int, default=100)
    parser.add_argument("--rate-per-day", type=int, default=5000)
    parser.add_argument(
        "--single-use-sessions",
        action="store_true",
        help="a second customerdetails exchange of a token fails",
    )
    parser.add_argument(
        "--stream-port",
        type=int,
        default=None,
        help="live feed (socket.io) port; default 8766, or a free port when --port is 0; "
        "0 picks a free port",
    )
    parser.add_argument("--no-stream", action="store_true", help="do not serve the live feed")
    parser.add_argument(
        "--tick-rate",
        type=float,
        default=1.0,
        help="live feed ticks per second per subscribed instrument (0 pauses)",
    )
    parser.add_argument(
        "--master-size",
        choices=MASTER_SIZES,
        default=DEFAULT_MASTER_SIZE,
        help="SecurityMaster.zip and instrument universe: small (named instruments, the default) "
        "or full (~8,200 equities and ~100,000 F&O contracts, for benchmarks)",
    )
    return parser


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def stream_port(args: argparse.Namespace) -> int | None:
    """The live feed port the arguments ask for (None: no live feed).

    An explicit ``--stream-port`` must be free; the default 8766 falls back to a free port when
    taken (e.g. a second simulator), so adding the live feed never breaks existing launchers.
    """
    if args.no_stream:
        return None
    if args.stream_port is not None:
        return int(args.stream_port)
    if args.port == 0 or not _port_free(args.host, DEFAULT_STREAM_PORT):
        return 0
    return DEFAULT_STREAM_PORT


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then shut down cleanly and return 0."""
    args = build_parser().parse_args(argv)
    sim = SimulatorServer(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        api_secret=args.api_secret,
        rate_per_min=args.rate_per_min,
        rate_per_day=args.rate_per_day,
        latency_ms=args.latency_ms,
        single_use_sessions=args.single_use_sessions,
        log_requests=True,
        stream_port=stream_port(args),
        tick_rate=args.tick_rate,
        master_size=args.master_size,
    )
    done = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sim.start()
    for token in args.demo_session:
        sim.issue_session(token)
    print(f"breeze_sim listening on {sim.url}", flush=True)
    if sim.live_stream_url:
        print(f"breeze_sim livestream on {sim.live_stream_url}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
