"""Command line: ``python -m breeze_sim --port 8765`` runs a simulator until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .server import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorServer


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
    return parser


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
    try:
        while not done.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
