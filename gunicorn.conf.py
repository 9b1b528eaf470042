"""gunicorn configuration shared by the run script, the Dockerfile and the benchmark.

Sized for Cloud Run with 2 vCPUs and 80 concurrent requests per instance: 2 worker processes
(one per CPU) with 40 threads each when state is shared through Redis. Requests mostly wait on
Breeze or Redis, so threads are cheap concurrency; processes give the CPU-bound JSON work both
cores.
"""

import os
import secrets
import shutil
import socket
import sys
import tempfile

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"  # noqa: S104
# Without Redis the rate budget and cache live in the process, so the embedded default runs
# one worker (with all 80 threads); with REDIS_URL every worker shares them.
_default_workers = "2" if os.environ.get("REDIS_URL") else "1"
workers = int(os.environ.setdefault("WEB_CONCURRENCY", _default_workers))
# gthread, changed (breeze_proxy/gunicorn_worker.py) so that a pool thread is taken only for a
# request that has fully arrived: clients that trickle or stall their requests cannot hold the
# threads (REQUEST_READ_TIMEOUT_S, default 30 s, bounds how long one may take; 408 after), nor
# can clients that never close hold the event loop; gunicorn's own refusals (below) are
# answered in the proxy's JSON error envelope.
worker_class = "breeze_proxy.gunicorn_worker.BufferedThreadWorker"
threads = int(os.environ.get("GUNICORN_THREADS", str(80 // workers)))
# Load the app once in the master and fork: workers share its memory pages and start fast.
preload_app = True
# Upstream calls end within BREEZE_TIMEOUT_S (10 s) plus a queue wait (5 s); leave headroom.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
# Request heads: gunicorn's defaults, stated here because they are part of the API (README,
# "Request limits and slow clients"): a longer request line is answered 414
# request_line_too_long; a longer header field, more fields, or a head over 64 KiB in all (the
# worker's MAX_HEAD_BYTES) 431 request_header_too_large; in the JSON envelope.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
keepalive = 75  # longer than Cloud Run's front end idles, so it never reuses a closed socket
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# gunicorn 27's control socket defaults to one path per user, shared by every instance on the
# machine; the proxy is managed by signals (Cloud Run sends SIGTERM), so it is switched off.
control_socket_disable = True
accesslog = None  # the proxy writes its own access line (with the request id)
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
logger_class = "breeze_proxy.gunicorn_logging.JsonGunicornLogger"


def when_ready(server: object) -> None:
    """Run Django's system checks once at start so misconfiguration (market.W001) is logged."""
    from django.core import checks

    for message in checks.run_checks():
        server.log.warning("system check: %s", message)


# --- Metrics (breeze/telemetry.py) ---------------------------------------------------------
# prometheus-client runs in multiprocess mode: each worker writes its metrics to files in
# PROMETHEUS_MULTIPROC_DIR and /metrics sums them. It must be set before the app (and so
# prometheus-client) is loaded, which is now: a fresh directory of this server's own unless
# one is given (files an earlier server left there are removed, or they would count again).
# Only when gunicorn itself reads this file: a script or test reading its settings with
# runpy must not find its environment changed (gunicorn's own command or `python -m gunicorn`;
# runpy.run_path sets argv[0] to this file's path.)
_serving = os.path.basename(sys.argv[0]) == "gunicorn" or sys.argv[0].endswith(
    os.path.join("gunicorn", "__main__.py")
)
_metrics_dir_given = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if _serving and _metrics_dir_given:
    os.makedirs(_metrics_dir_given, exist_ok=True)
    for _name in os.listdir(_metrics_dir_given):
        if _name.endswith(".db"):
            os.remove(os.path.join(_metrics_dir_given, _name))
elif _serving:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
        prefix="breeze-metrics-", dir=worker_tmp_dir
    )
if _serving:  # the workers of one server are one instance of the fleet (GET /breeze/metrics)
    os.environ.setdefault(
        "BREEZE_INSTANCE_ID", f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
    )


def post_worker_init(worker: object) -> None:
    """Each worker reports its figures (and that it is alive) from the start."""
    from breeze import telemetry

    telemetry.start_reporter()


def child_exit(server: object, worker: object) -> None:
    """A worker's live gauges (stream clients, memory) leave the sums when it exits."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    if _serving and not _metrics_dir_given:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
