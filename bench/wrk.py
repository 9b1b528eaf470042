"""Running wrk (the load generator) and reading its numbers.

wrk is a separate C process, so the proxy's figures are not bounded by a Python client's own
GIL. Each Lua script's ``done()`` prints one ``WRK_JSON {...}`` line (bench/lua/report.lua); that
line, not wrk's human summary, is what gets parsed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.processes import BenchError

LUA_DIR = Path(__file__).resolve().parent / "lua"


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured; latencies in milliseconds."""

    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int  # connect + read + write + timeouts
    non_2xx: int

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def ensure_wrk() -> tuple[str, bool]:
    """Path to wrk, installing the Debian package when it is missing; (path, installed_now)."""
    found = shutil.which("wrk")
    if found:
        return found, False
    apt = ["apt-get", "install", "-y", "-q", "wrk"]
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            raise BenchError("wrk is not installed and there is no sudo: apt-get install -y wrk")
        apt = ["sudo", "-n", *apt]
    done = subprocess.run(apt, capture_output=True, text=True, timeout=300, check=False)
    found = shutil.which("wrk")
    if done.returncode != 0 or not found:
        raise BenchError(f"could not install wrk ({' '.join(apt)}):\n{done.stderr[-1500:]}")
    return found, True


def run(
    url: str,
    script: str,
    script_args: list[str],
    *,
    threads: int,
    connections: int,
    duration_s: int,
    timeout_s: int = 10,
) -> WrkResult:
    """One wrk run; fails if wrk fails or prints no report."""
    wrk, _ = ensure_wrk()
    argv = [
        wrk, f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", f"--timeout={timeout_s}s",
        "--latency", "-s", str(LUA_DIR / script), url, "--", *script_args,
    ]  # fmt: skip
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=duration_s + timeout_s + 30, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk against {url} did not finish") from exc
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(f"wrk against {url} failed:\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    return WrkResult(
        requests=raw["requests"],
        duration_s=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        socket_errors=raw["connect_errors"]
        + raw["read_errors"]
        + raw["write_errors"]
        + raw["timeouts"],
        non_2xx=raw["non_2xx_3xx"],
    )
