"""Settings for Breeze Proxy, every one read from the environment (django-environ).

Two shapes of deployment share this file:

* the embedded default (no ``BREEZE_API_KEY``): SQLite, the local-memory cache and the bundled
  Breeze simulator at ``BREEZE_SIM_URL``, so a new user can run everything on one machine;
* production (Cloud Run): credentials from the environment or Secret Manager, PostgreSQL via
  ``DATABASE_URL`` and Redis via ``REDIS_URL`` so that every instance shares one session, one
  cache and one rate budget.

Never add a top-level module named ``config``: breeze-connect imports one by that name.
"""

from __future__ import annotations

import hashlib
import warnings
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from breeze_proxy.config_sources import secret_value

BASE_DIR = Path(__file__).resolve().parent.parent
VERSION = "1.0.0"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
TESTING = env.bool("BREEZE_PROXY_TESTING", default=False)

# --- Breeze credentials and upstream -------------------------------------------------------
_real_api_key = secret_value("BREEZE_API_KEY")
# Without real credentials the proxy talks to the bundled simulator (the embedded default).
BREEZE_SANDBOX = not _real_api_key
BREEZE_SIM_URL = env.str("BREEZE_SIM_URL", default="http://127.0.0.1:8765").rstrip("/")

if BREEZE_SANDBOX:
    BREEZE_API_KEY = env.str("BREEZE_SIM_API_KEY", default="sim-api-key")
    BREEZE_API_SECRET = env.str("BREEZE_SIM_API_SECRET", default="sim-api-secret")
    _default_v1 = f"{BREEZE_SIM_URL}/breezeapi/api/v1/"
    _default_v2 = f"{BREEZE_SIM_URL}/api/v2/"
    _default_master = f"{BREEZE_SIM_URL}/MotherAppMaster/SecurityMaster.zip"
    _default_stream = env.str("BREEZE_SIM_STREAM_URL", default="http://127.0.0.1:8766")
else:
    BREEZE_API_KEY = _real_api_key
    BREEZE_API_SECRET = secret_value("BREEZE_API_SECRET")
    if not BREEZE_API_SECRET:
        raise ImproperlyConfigured("BREEZE_API_KEY is set but BREEZE_API_SECRET is not.")
    _default_v1 = "https://api.icicidirect.com/breezeapi/api/v1/"
    _default_v2 = "https://breezeapi.icicidirect.com/api/v2/"
    _default_master = "https://directlink.icicidirect.com/MotherAppMaster/SecurityMaster.zip"
    _default_stream = "https://livestream.icicidirect.com"

BREEZE_API_URL = env.str("BREEZE_API_URL", default=_default_v1)
BREEZE_API_V2_URL = env.str("BREEZE_API_V2_URL", default=_default_v2)
BREEZE_SECURITY_MASTER_URL = env.str("BREEZE_SECURITY_MASTER_URL", default=_default_master)
# Downloading the master (instruments sync): a deadline and a size cap (a 2025 master is ~3 MB).
BREEZE_MASTER_TIMEOUT_S = env.float("BREEZE_MASTER_TIMEOUT_S", default=120.0)
BREEZE_MASTER_MAX_BYTES = env.int("BREEZE_MASTER_MAX_BYTES", default=100 * 1024 * 1024)
# How often a process looks for a newer master, and whether it starts a sync itself when the
# loaded master is older than a day (the daily job is the main mechanism).
BREEZE_INSTRUMENTS_CHECK_S = env.float("BREEZE_INSTRUMENTS_CHECK_S", default=30.0)
BREEZE_INSTRUMENTS_AUTO_SYNC = env.bool("BREEZE_INSTRUMENTS_AUTO_SYNC", default=not TESTING)
BREEZE_TIMEOUT_S = env.float("BREEZE_TIMEOUT_S", default=10.0)
BREEZE_PROXY_ADMIN_KEY = secret_value("BREEZE_PROXY_ADMIN_KEY")

# Values that must never appear in a log line or a response (see json_logging.redact).
REDACT_VALUES = [
    value for value in (BREEZE_API_SECRET, BREEZE_PROXY_ADMIN_KEY, _real_api_key) if value
]

# --- Django core ---------------------------------------------------------------------------
_secret_key = secret_value("SECRET_KEY")
if not _secret_key:
    if not (DEBUG or BREEZE_SANDBOX or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set in production.")
    _secret_key = "insecure-local-only-" + "0" * 40
SECRET_KEY = _secret_key

# --- Client keys, admin-key lockout, admin login lockout (access/) -------------------------
# Client keys are stored as HMAC-SHA256 digests under this pepper; without its own secret it
# is derived from SECRET_KEY (so rotating SECRET_KEY then invalidates every client key).
BREEZE_CLIENT_KEY_PEPPER = (
    secret_value("BREEZE_CLIENT_KEY_PEPPER")
    or hashlib.sha256(f"breeze-proxy-client-key-pepper:{SECRET_KEY}".encode()).hexdigest()
)
REDACT_VALUES += [BREEZE_CLIENT_KEY_PEPPER]
# The embedded sandbox is open by default; production requires X-Proxy-Key on market calls.
BREEZE_REQUIRE_CLIENT_KEY = env.bool("BREEZE_REQUIRE_CLIENT_KEY", default=not BREEZE_SANDBOX)
# A known key's record is remembered for an hour: every change to a key writes the fresh record
# through (access.signals), so a long TTL never delays a revocation. Unknown keys: a minute.
BREEZE_CLIENT_KEY_CACHE_TTL_S = env.float("BREEZE_CLIENT_KEY_CACHE_TTL_S", default=3600.0)
BREEZE_UNKNOWN_KEY_CACHE_TTL_S = env.float("BREEZE_UNKNOWN_KEY_CACHE_TTL_S", default=60.0)
# Keys the store does not know cost a database query: this many a minute per address and
# for the whole fleet, then such requests are refused (429) before the database.
BREEZE_KEY_LOOKUPS_PER_MINUTE = env.int("BREEZE_KEY_LOOKUPS_PER_MINUTE", default=30)
BREEZE_KEY_LOOKUPS_GLOBAL_PER_MINUTE = env.int("BREEZE_KEY_LOOKUPS_GLOBAL_PER_MINUTE", default=300)
BREEZE_ADMIN_LOCKOUT_PER_IP = env.int("BREEZE_ADMIN_LOCKOUT_PER_IP", default=5)
BREEZE_ADMIN_LOCKOUT_GLOBAL = env.int("BREEZE_ADMIN_LOCKOUT_GLOBAL", default=50)
BREEZE_ADMIN_LOCKOUT_WINDOW_S = env.int("BREEZE_ADMIN_LOCKOUT_WINDOW_S", default=15 * 60)
# Only behind a proxy that appends the caller's address (Cloud Run does): the last hop of
# X-Forwarded-For is then the source IP; otherwise REMOTE_ADDR, which a caller cannot forge.
BREEZE_TRUST_X_FORWARDED_FOR = env.bool("BREEZE_TRUST_X_FORWARDED_FOR", default=False)
# How many proxies in front append to X-Forwarded-For: 1 behind Cloud Run alone, 2 with an
# external load balancer in front of it. The caller's address is that many hops from the end.
BREEZE_TRUSTED_PROXY_HOPS = env.int("BREEZE_TRUSTED_PROXY_HOPS", default=1)
# The public service serves neither the Django admin nor, optionally, the admin API; a staff
# service from the same image does (deploy.sh). The deployed frontend activates the daily
# session through the admin API on the public URL, so that stays on by default.
BREEZE_ADMIN_SITE_ENABLED = env.bool("BREEZE_ADMIN_SITE_ENABLED", default=True)
BREEZE_ADMIN_API_ENABLED = env.bool("BREEZE_ADMIN_API_ENABLED", default=True)

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# A username and address together: behind a shared front end one address is everyone, and a
# username alone would let anyone lock out a member of staff.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "common.network.client_ip"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "access",
    "instruments",
    "market",
    "stream",
    "sessions_admin",
    "monitoring",
]

MIDDLEWARE = [
    "breeze_proxy.middleware.RequestContextMiddleware",
    "breeze_proxy.middleware.ChunkedBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Headers only, on every answer: also those the probes and the front door give early.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # Cloud Run's probes name the container's address as Host: served before host validation.
    "breeze_proxy.probes.ProbeMiddleware",
    # Ready market answers leave here, before the middleware below that only the admin needs.
    "market.front_door.FrontDoorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "breeze_proxy.urls"
WSGI_APPLICATION = "breeze_proxy.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets gunicorn's threads read while one writes; IMMEDIATE avoids upgrade deadlocks.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
elif env.bool("DB_POOL", default=not TESTING):
    # One pool of connections per worker process (psycopg's pool, through Django), sized to
    # the worker's threads: a thread holds a connection only while it runs a query, and most
    # requests never touch the database, so PostgreSQL sees at most workers x DB_POOL_MAX_SIZE
    # connections per instance however long they live.
    _threads = env.int("GUNICORN_THREADS", default=80 // env.int("WEB_CONCURRENCY", default=2))
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections, not Django
    # Added to what DATABASE_URL's query string sets (sslmode, options, ...), not instead.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=_threads),
        "timeout": env.float("DB_POOL_TIMEOUT_S", default=10.0),
        "max_idle": 300,
    }
else:
    # Under ASGI every request runs its view on a thread of its own: a connection kept past
    # the request would never be used again (Django's advice: no persistent connections there).
    _asgi = env.str("BREEZE_SERVER", default="wsgi") == "asgi"
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if _asgi else env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="breeze-proxy"),
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "breeze-proxy",
            "OPTIONS": {"MAX_ENTRIES": 10000},
        }
    }

# A new client key is shown once through the messages framework: keep it in the server-side
# session, never in a (signed but readable) cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "Asia/Kolkata"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve admin and browsable-API assets straight from the installed apps when they have not
# been collected (the embedded default); production images run collectstatic at build time.
WHITENOISE_USE_FINDERS = not STATIC_ROOT.exists()
if WHITENOISE_USE_FINDERS:
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

# Request bodies are small JSON documents; anything larger is refused before parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=64 * 1024)

# --- Security headers ----------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Cloud Run terminates TLS and forwards the original scheme.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not (DEBUG or BREEZE_SANDBOX))
# Cloud Run's probes call GET / and GET /breeze/health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^$", r"^(api/)?breeze/health$"]
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not (DEBUG or BREEZE_SANDBOX))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int(
    "SECURE_HSTS_SECONDS", default=0 if (DEBUG or BREEZE_SANDBOX) else 31536000
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
# *.run.app is on the browsers' preload list already; custom domains opt out with the env.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS > 0)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- CORS ----------------------------------------------------------------------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_ALL_ORIGINS = DEBUG
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "origin",
    "user-agent",
    "x-requested-with",
    "x-request-id",
    "x-proxy-key",
    "x-proxy-admin-key",
)
CORS_EXPOSE_HEADERS = (
    "x-request-id",
    "x-cache",
    "age",
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
)
CORS_URLS_REGEX = r"^/(breeze|api)/.*$|^/$"

# --- DRF and OpenAPI -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["common.parsers.BoundedJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "EXCEPTION_HANDLER": "breeze_proxy.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Breeze Proxy API",
    "DESCRIPTION": (
        "Market quotes, best bid/offer, historical candles and option chains from ICICI "
        "Direct Breeze, behind one daily session managed by staff."
    ),
    "VERSION": VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI's assets come from the pinned drf-spectacular-sidecar package, served by the
    # app itself: the docs work offline and never load a script from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    # No badge from validator.swagger.io (it would be sent the schema's address).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "common.schema.strict_request_bodies",
    ],
}

# --- Logging -------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "common.json_logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "common.json_logging.JsonFormatter"}},
    "handlers": {
        # stderr: Cloud Logging reads it the same way, and commands keep stdout for output.
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        # Our access log replaces Django's; keep its 4xx/5xx warnings out of the stream.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
        "APILogger": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "WebsocketLogger": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
}

# --- Encryption at rest --------------------------------------------------------------------
BREEZE_SESSION_ENCRYPTION_KEYS = [
    key.strip() for key in secret_value("BREEZE_SESSION_ENCRYPTION_KEYS").split(",") if key.strip()
]
REDACT_VALUES += BREEZE_SESSION_ENCRYPTION_KEYS

# --- Protecting Breeze (cache, budget, breaker) --------------------------------------------
SHARED_STATE_NAMESPACE = env.str("CACHE_KEY_PREFIX", default="breeze-proxy")
BREEZE_QUOTE_TTL_S = env.float("BREEZE_QUOTE_TTL_S", default=1.0)
BREEZE_CHAIN_TTL_S = env.float("BREEZE_CHAIN_TTL_S", default=3.0)
BREEZE_HISTORY_OPEN_TTL_S = env.float("BREEZE_HISTORY_OPEN_TTL_S", default=5.0)
# History: Breeze calls one request may cause (pages of 1000 candles); more and the answer says
# complete: false with next_to_date. Closed candles are kept in the database, per interval for
# this many days (0: forever; `manage.py candles prune` deletes older ones).
BREEZE_HISTORY_MAX_CALLS = env.int("BREEZE_HISTORY_MAX_CALLS", default=10)
BREEZE_CANDLE_RETENTION_DAYS = {
    "1second": 30,
    "1minute": 730,
    "5minute": 1825,
    "30minute": 0,
    "1day": 0,
    **{k: int(v) for k, v in env.dict("BREEZE_CANDLE_RETENTION_DAYS", default={}).items()},
}
# Trading holidays the NSE list in breeze/calendar.py does not have yet (ISO dates).
BREEZE_EXTRA_HOLIDAYS = env.list("BREEZE_EXTRA_HOLIDAYS", default=[])
BREEZE_STALE_TTL_S = env.int("BREEZE_STALE_TTL_S", default=86400)

# --- The live stream (stream/, served by breeze_proxy.asgi) ---------------------------------
BREEZE_LIVE_STREAM_URL = env.str("BREEZE_LIVE_STREAM_URL", default=_default_stream).rstrip("/")
# Feeds the fleet's one upstream connection may join (a depth feed counts as one).
BREEZE_STREAM_MAX_TOKENS = env.int("BREEZE_STREAM_MAX_TOKENS", default=500)
# No tick for this long during market hours while feeds are joined: reconnect.
BREEZE_STREAM_STALE_S = env.float("BREEZE_STREAM_STALE_S", default=30.0)
# A feed nobody listens to is left after this long; the connection closed after IDLE.
BREEZE_STREAM_LEAVE_GRACE_S = env.float("BREEZE_STREAM_LEAVE_GRACE_S", default=30.0)
BREEZE_STREAM_IDLE_GRACE_S = env.float("BREEZE_STREAM_IDLE_GRACE_S", default=120.0)
# Per client key, across the fleet: live connections and instruments subscribed.
BREEZE_STREAM_MAX_CONNECTIONS_PER_KEY = env.int("BREEZE_STREAM_MAX_CONNECTIONS_PER_KEY", default=50)
BREEZE_STREAM_MAX_SUBSCRIPTIONS_PER_KEY = env.int(
    "BREEZE_STREAM_MAX_SUBSCRIPTIONS_PER_KEY", default=500
)
# Packets waiting for one client beyond which its updates are conflated (latest per feed).
BREEZE_STREAM_CLIENT_BUFFER = env.int("BREEZE_STREAM_CLIENT_BUFFER", default=64)
# A connection that has not subscribed (and so shown a key) within this long is closed.
BREEZE_STREAM_AUTH_GRACE_S = env.float("BREEZE_STREAM_AUTH_GRACE_S", default=30.0)
# The leader's lock: another instance takes the feed over within about this long.
BREEZE_STREAM_LEADER_TTL_S = env.float("BREEZE_STREAM_LEADER_TTL_S", default=6.0)
BREEZE_RATE_PER_MIN = env.int("BREEZE_RATE_PER_MIN", default=90)
BREEZE_RATE_PER_DAY = env.int("BREEZE_RATE_PER_DAY", default=4800)
BREEZE_QUEUE_WAIT_S = env.float("BREEZE_QUEUE_WAIT_S", default=5.0)
BREEZE_BREAKER_FAILURES = env.int("BREEZE_BREAKER_FAILURES", default=5)
BREEZE_BREAKER_RESET_S = env.float("BREEZE_BREAKER_RESET_S", default=30.0)
BREEZE_BATCH_MAX = env.int("BREEZE_BATCH_MAX", default=50)
# Cached answers are bounded by construction: one per Breeze call, none larger than this,
# none kept longer than this (BREEZE_STALE_TTL_S included).
BREEZE_CACHE_MAX_ENTRY_BYTES = env.int("BREEZE_CACHE_MAX_ENTRY_BYTES", default=256 * 1024)
BREEZE_CACHE_MAX_TTL_S = env.int("BREEZE_CACHE_MAX_TTL_S", default=86400)

# --- Fair shares: no caller can spend the fleet's budget for everyone ----------------------
# Each client key may cause at most this many Breeze calls a day and a minute (a key's own
# calls_per_day overrides the day); the admin key used as a client key gets the same share.
BREEZE_KEY_CALLS_PER_DAY = env.int("BREEZE_KEY_CALLS_PER_DAY", default=BREEZE_RATE_PER_DAY // 4)
BREEZE_KEY_CALLS_PER_MINUTE = env.int(
    "BREEZE_KEY_CALLS_PER_MINUTE", default=max(1, BREEZE_RATE_PER_MIN // 2)
)
BREEZE_ADMIN_CLIENT_QUOTA = env.int("BREEZE_ADMIN_CLIENT_QUOTA", default=600)
# Where keys are not required, each address is limited the same way (0: no request quota).
BREEZE_OPEN_QUOTA = env.int("BREEZE_OPEN_QUOTA", default=600)
BREEZE_OPEN_CALLS_PER_DAY = env.int("BREEZE_OPEN_CALLS_PER_DAY", default=BREEZE_KEY_CALLS_PER_DAY)
BREEZE_OPEN_CALLS_PER_MINUTE = env.int(
    "BREEZE_OPEN_CALLS_PER_MINUTE", default=BREEZE_KEY_CALLS_PER_MINUTE
)

# --- Observability (monitoring/): /metrics, GET /breeze/metrics, the staff dashboard --------
# The bearer token of /metrics (secret). Without one, /metrics is open on the embedded default
# (the sandbox or DEBUG) and refused in production.
METRICS_TOKEN = secret_value("METRICS_TOKEN")
REDACT_VALUES += [METRICS_TOKEN] if METRICS_TOKEN else []
# Off: nothing is recorded (the benchmark's "metrics off" run); the endpoints still answer.
BREEZE_METRICS_ENABLED = env.bool("BREEZE_METRICS_ENABLED", default=True)
# How often each process adds its per-minute roll-up to the shared store (the fleet's figures).
BREEZE_METRICS_FLUSH_S = env.float("BREEZE_METRICS_FLUSH_S", default=5.0)
BREEZE_DASHBOARD_REFRESH_S = env.int("BREEZE_DASHBOARD_REFRESH_S", default=30)
