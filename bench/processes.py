"""Starting, waiting for and stopping the processes a benchmark run needs.

Every child is started in its own process group and registered with a :class:`Fleet`, so a
failure, Ctrl-C or SIGTERM anywhere in the run still tears down the simulator, every gunicorn
master and its workers. Every wait has a deadline: a hung child fails the run with its log tail
instead of hanging it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python")
GUNICORN = str(VENV_BIN / "gunicorn")
GUNICORN_CONF = "gunicorn.conf.py"  # the production configuration, never a bench copy


class BenchError(RuntimeError):
    """A setup step failed; the message says what to fix."""


def free_port() -> int:
    """A port nobody listens on right now (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Child:
    """One started process (a process-group leader) and the file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    started_at: float = field(default_factory=time.perf_counter)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 25.0) -> None:
        """SIGTERM the group (gunicorn drains gracefully), SIGKILL it after ``timeout_s``."""
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)


class Fleet:
    """Owns every child of the run; ``stop_all`` is idempotent and runs in reverse order."""

    def __init__(self, results_dir: Path) -> None:
        self.results_dir = results_dir
        self.children: list[Child] = []

    def spawn(self, name: str, argv: list[str], env: Mapping[str, str]) -> Child:
        log_path = self.results_dir / f"{name}.log"
        log = log_path.open("wb")
        try:
            popen = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: killpg reaches the workers too
            )
        finally:
            log.close()
        child = Child(name, popen, log_path)
        self.children.append(child)
        return child

    def stop(self, child: Child) -> None:
        child.stop()
        if child in self.children:
            self.children.remove(child)

    def stop_all(self) -> None:
        while self.children:
            self.children.pop().stop()


def base_env(**overrides: str) -> dict[str, str]:
    """The bench's own environment minus anything that would point a child elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BREEZE_", "DJANGO_"))}
    for name in ("REDIS_URL", "DATABASE_URL", "CACHE_KEY_PREFIX", "PORT", "HOST"):
        env.pop(name, None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def start_simulator(
    fleet: Fleet,
    name: str,
    *,
    latency_ms: int,
    rate_per_min: int | str,
    rate_per_day: int | str,
    stream: bool = True,
) -> tuple[Child, str]:
    """The bundled Breeze simulator on a free port; returns it and its base URL. Without
    ``stream`` it opens no live feed (whose fixed default port another may hold)."""
    port = free_port()
    argv = [
        PYTHON, "-m", "breeze_sim", "--host", "127.0.0.1", "--port", str(port),
        "--latency-ms", str(latency_ms), "--rate-per-min", str(rate_per_min),
        "--rate-per-day", str(rate_per_day), *([] if stream else ["--no-stream"]),
    ]  # fmt: skip
    child = fleet.spawn(name, argv, base_env())
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(child, f"{url}/__sim__/health", timeout_s=20)
    return child, url


def start_gunicorn(fleet: Fleet, name: str, app: str, env: Mapping[str, str]) -> Child:
    """gunicorn with the production config file; the caller sets PORT/HOST in ``env``.

    gunicorn 27 opens a control socket at $XDG_RUNTIME_DIR/gunicorn.ctl (else
    ~/.gunicorn/gunicorn.ctl), one path shared by every gunicorn of the user; each instance
    here gets its own runtime dir so neither the bench's instances nor anyone else's
    ``gunicorn ctl`` can reach the wrong one. The config file itself is untouched.
    """
    runtime = fleet.results_dir / "run" / name
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    return fleet.spawn(
        name, [GUNICORN, "-c", GUNICORN_CONF, app], {**env, "XDG_RUNTIME_DIR": str(runtime)}
    )


def ensure_alive(children: list[Child], phase: str) -> None:
    """Fail the run if a server died during ``phase`` (its figures would be meaningless)."""
    for child in children:
        if not child.alive():
            raise BenchError(
                f"{child.name} (pid {child.pid}) exited with code {child.popen.returncode} "
                f"during {phase}; nothing in the bench stops it mid-phase, so it crashed or was "
                f"killed from outside. Log {child.log_path}:\n{child.log_tail()}"
            )


def http_get_status(url: str, timeout_s: float = 1.0) -> int | None:
    """Status of GET ``url``, or None when nothing answers yet."""
    host, port, path = _split(url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def wait_http_ok(child: Child, url: str, *, timeout_s: float, poll_s: float = 0.05) -> float:
    """Poll ``url`` until it answers 200; returns seconds since the child was spawned.

    Fails at once if the child exits, so a crashing gunicorn reports its log instead of waiting
    out the deadline.
    """
    deadline = time.perf_counter() + timeout_s
    while True:
        if http_get_status(url, timeout_s=min(1.0, timeout_s)) == 200:
            return time.perf_counter() - child.started_at
        if not child.alive():
            raise BenchError(
                f"{child.name} exited with code {child.popen.returncode} before {url} answered; "
                f"log {child.log_path}:\n{child.log_tail()}"
            )
        if time.perf_counter() > deadline:
            raise BenchError(
                f"{child.name}: {url} did not answer 200 within {timeout_s:g} s; "
                f"log {child.log_path}:\n{child.log_tail()}"
            )
        time.sleep(poll_s)


def run_checked(argv: list[str], env: Mapping[str, str], *, timeout_s: float) -> str:
    """Run a short command to completion; its stdout, or a BenchError with its output."""
    try:
        done = subprocess.run(
            argv,
            cwd=ROOT,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{' '.join(argv[:4])} timed out after {timeout_s:g} s") from exc
    if done.returncode != 0:
        raise BenchError(
            f"{' '.join(argv[:4])} failed ({done.returncode}):\n{done.stdout[-2000:]}"
            f"{done.stderr[-2000:]}"
        )
    return done.stdout


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def process_tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` and its live descendants.

    Read before and after a phase, the difference says where the machine's two cores went.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def process_tree_rss_bytes(pid: int) -> tuple[int, int]:
    """Sum of VmRSS over ``pid`` and all its descendants, and how many processes that is.

    RSS double-counts pages the preloaded master shares with forked workers, so this is an upper
    bound of what the instance really occupies, which is the conservative side for a budget.
    """
    total, count = 0, 0
    for current in _tree(pid):
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
                count += 1
    return total, count


def _split(url: str) -> tuple[str, int, str]:
    rest = url.split("://", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    return host, int(port or 80), "/" + path


class SimControl:
    """The simulator's control API over ONE keep-alive connection.

    The simulator counts every TCP connection it accepts; sending the bench's own control calls
    over one connection (and counting reconnects) keeps them out of the proxy's figure.
    """

    def __init__(self, base_url: str) -> None:
        host, port, _ = _split(base_url)
        control = self

        class _Counted(http.client.HTTPConnection):
            def connect(self) -> None:
                control.connections += 1
                super().connect()

        self.connections = 0
        self._conn = _Counted(host, port, timeout=10)

    def call(self, method: str, action: str, body: dict[str, Any] | None = None) -> Any:
        payload = json.dumps(body or {}).encode() if method == "POST" else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        for attempt in (1, 2):
            try:
                self._conn.request(method, f"/__sim__/{action}", body=payload, headers=headers)
                response = self._conn.getresponse()
                data = response.read()
                break
            except (OSError, http.client.HTTPException):
                self._conn.close()
                if attempt == 2:
                    raise
        if response.status != 200:
            raise BenchError(f"simulator {method} {action}: HTTP {response.status} {data[:200]!r}")
        return json.loads(data)

    def stats(self) -> dict[str, Any]:
        return self.call("GET", "stats")

    def new_session(self) -> str:
        return str(self.call("POST", "sessions")["api_session"])

    def close(self) -> None:
        self._conn.close()


def install_signal_handlers() -> None:
    """Turn SIGTERM into KeyboardInterrupt so ``finally`` blocks tear the fleet down."""

    def _raise(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _raise)
    if sys.platform != "win32":
        signal.signal(signal.SIGHUP, _raise)
