"""gunicorn configuration shared by the run script, the Dockerfile and the benchmark.

Sized for Cloud Run with 2 vCPUs and 80 concurrent requests per instance: 2 worker processes
(one per CPU) with 40 threads each when state is shared through Redis. Requests mostly wait on
Breeze or Redis, so threads are cheap concurrency; processes give the CPU-bound JSON work both
cores.
"""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"  # noqa: S104
# Without Redis the rate budget and cache live in the process, so the embedded default runs
# one worker (with all 80 threads); with REDIS_URL every worker shares them.
_default_workers = "2" if os.environ.get("REDIS_URL") else "1"
workers = int(os.environ.setdefault("WEB_CONCURRENCY", _default_workers))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", str(80 // workers)))
# Load the app once in the master and fork: workers share its memory pages and start fast.
preload_app = True
# Upstream calls end within BREEZE_TIMEOUT_S (10 s) plus a queue wait (5 s); leave headroom.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
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
