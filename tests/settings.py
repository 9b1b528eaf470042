"""Test settings: the production settings module, fed the environment a test run needs.

The suite runs against the real PostgreSQL of the machine (``TEST_DATABASE_URL`` overrides)
and the bundled simulator, which the fixtures start on a free port.
"""

import os

os.environ.setdefault("BREEZE_PROXY_TESTING", "true")
os.environ.setdefault(
    "DATABASE_URL", os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
)
os.environ.setdefault("BREEZE_PROXY_ADMIN_KEY", "test-admin-key-5b1f0c2e9d")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# The suite makes hundreds of upstream calls a minute; budget tests set their own limits.
os.environ.setdefault("BREEZE_RATE_PER_MIN", "100000")
os.environ.setdefault("BREEZE_RATE_PER_DAY", "1000000")
os.environ.pop("BREEZE_API_KEY", None)  # always the simulator in tests
os.environ.pop("REDIS_URL", None)  # the default in-process tests use the local-memory cache
os.environ.pop("GCP_PROJECT_ID", None)

from breeze_proxy.settings import *  # noqa: F403

# The whole run is swept for leaked secrets (tests/leakcheck.py).
MIDDLEWARE = ["tests.leakcheck.CaptureResponsesMiddleware", *MIDDLEWARE]  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test users

# One test database per run, so parallel runs on one machine (developers, CI) never collide.
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": os.environ.get("TEST_DB_NAME", f"test_breeze_{os.getpid()}"),
}
