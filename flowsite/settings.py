"""Flowsite settings, configured from the environment.

Environment variables:
- ``DATABASE_URL``: database (default: the SQLite file ``var/db.sqlite3``); ``postgres://...`` uses psycopg 3.
- PostgreSQL connections come from Django's psycopg pool (``CONN_MAX_AGE`` 0): per process
  ``FLOWSITE_DB_POOL_MIN_SIZE`` (default 2) to ``FLOWSITE_DB_POOL_MAX_SIZE`` (default 10)
  connections; a thread that finds them all busy waits ``FLOWSITE_DB_POOL_TIMEOUT`` seconds
  (default 10) for one, then gets ``OperationalError``. ``FLOWSITE_DB_POOL_CHECK`` (``1``/``0``,
  default 1): the pool checks a connection (a round trip) each time it hands one out (Django's
  ``CONN_HEALTH_CHECKS``); with 0 it does not, and a connection that broke while idle in the pool
  (a restarted server) fails its first query (``OperationalError``) and is then discarded.
- ``REDIS_URL``: when set, Channels uses ``channels-redis`` (``flowsite.channel_layer``) and the
  ``live`` cache Redis; otherwise the in-memory layer and a database cache table
  (``manage.py createcachetable``). Their Redis clients, per process:
  ``FLOWSITE_REDIS_SOCKET_TIMEOUT`` (seconds, default 30; must exceed channels-redis' 5 s blocking
  read), ``FLOWSITE_REDIS_CONNECT_TIMEOUT`` (5), ``FLOWSITE_REDIS_MAX_CONNECTIONS`` (50 per pool;
  callers wait up to ``FLOWSITE_REDIS_POOL_TIMEOUT``, 10 s, for a free one),
  ``FLOWSITE_REDIS_HEALTH_CHECK_INTERVAL`` (15 s); the channel layer's
  ``FLOWSITE_CHANNEL_CAPACITY`` (100 messages waiting per channel), ``FLOWSITE_CHANNEL_EXPIRY``
  (60 s a message waits), ``FLOWSITE_CHANNEL_GROUP_EXPIRY`` (86400 s a group membership lasts),
  ``FLOWSITE_CHANNEL_PREFIX`` (``asgi``: several sites on one Redis need their own).
- ``DEBUG``: ``1`` turns it on; off unless set to ``1`` (``0`` or unset), anything else is an error.
- ``SECRET_KEY``: required when ``DEBUG`` is off (``ImproperlyConfigured`` otherwise); with
  ``DEBUG`` on a fixed development key is used when it is unset.
- ``ALLOWED_HOSTS``, ``CSRF_TRUSTED_ORIGINS`` (comma-separated; origins as ``https://host``).
- Behind a TLS-terminating proxy (the README's "Production"): ``SECURE_PROXY_SSL_HEADER`` (the
  request header the proxy sets, as Django names it: ``HTTP_X_FORWARDED_PROTO``, meaning
  ``https`` when it says so), ``SECURE_SSL_REDIRECT``, ``SESSION_COOKIE_SECURE``,
  ``CSRF_COOKIE_SECURE`` (``1``/``0``, default: on when ``DEBUG`` is off),
  ``SECURE_HSTS_SECONDS`` (default 0: no HSTS), ``SECURE_HSTS_INCLUDE_SUBDOMAINS``,
  ``SECURE_HSTS_PRELOAD`` (``1``/``0``, default 0).
- Static files are served by WhiteNoise: with ``DEBUG`` off from ``STATIC_ROOT``, compressed and
  with hashed names (``manage.py collectstatic`` first); with ``DEBUG`` on (the demo, the tests)
  straight from the source directories.
- ``FLOWSITE_EXECUTOR``: ``inprocess`` (default: the server process hosts the worker consumer
  of the runs channel, on the in-memory layer) or ``external`` (``manage.py runworker
  flowsite.runs`` processes execute the runs, on Redis); ``FLOWSITE_EXECUTOR_CONCURRENCY``: runs
  executed at once per process (default 8); ``FLOWSITE_RUNS_CHANNEL`` (default
  ``flowsite.runs``).
- ``FLOWSITE_RUN_LEASE_SECONDS`` (default 20): how long a run's claim lasts unless renewed;
  ``FLOWSITE_HEARTBEAT_SECONDS`` (default 5): how often a process renews its runs' leases;
  ``FLOWSITE_SWEEP_SECONDS`` (default 5; 0: never): how often every process requeues runs of
  dead workers and gets queued runs going. A ``kill -9``ed worker's runs are reclaimed within
  lease + sweep.
- ``FLOWSITE_MAX_INPUT_BYTES``, ``FLOWSITE_MAX_ANSWER_BYTES`` (default 262144 each: a workflow
  input, an answer, as UTF-8 JSON), ``FLOWSITE_MAX_JSON_DEPTH`` (default 64 levels of nesting):
  the bounds of ``workflows.validation``; beyond them a form error, nothing written.
- ``FLOWSITE_MAX_PUSH_BYTES`` (default 65536: one value pushed over the channel layer or shown on
  a live page), ``FLOWSITE_MAX_FRAME_BYTES`` (default 524288: one WebSocket message),
  ``FLOWSITE_PREVIEW_BYTES`` (default 2048: a value on an inbox card): ``workflows.truncation``
  shortens what is larger, with a link to the whole value.
- ``EMAIL_BACKEND`` (default: Django's console backend, mail printed to stdout), ``EMAIL_HOST``,
  ``EMAIL_PORT``, ``EMAIL_HOST_USER``, ``EMAIL_HOST_PASSWORD``, ``EMAIL_USE_TLS`` (``1``/``0``),
  ``DEFAULT_FROM_EMAIL``: Django's email settings, for review notifications.
- ``FLOWSITE_SITE_URL``: the site's address in links sent by email (default
  ``http://localhost:8000``); ``FLOWSITE_REVIEW_LINK_MAX_AGE``: seconds a review link in an
  email stays valid (default 604800, seven days).
- ``FLOWSITE_CHAT_MODEL``: ``provider:model`` for the streaming essay example (default: a fake
  streaming chat model, offline).
"""

import os
from pathlib import Path

import dj_database_url
import django
from django.core.exceptions import ImproperlyConfigured


def _env_flag(name: str, default: bool) -> bool:
    """``1`` is on, ``0`` (or empty) is off, unset is ``default``; anything else is an error."""
    value = os.environ.get(name)
    if value is None:
        return default
    if value not in ("0", "1", ""):
        raise ImproperlyConfigured(f"{name} must be 1 (on) or 0 (off), not {value!r}.")
    return value == "1"


def _env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = os.environ.get(name) or str(default)
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}.")
    return number


def _env_float(name: str, default: float, *, above: float = 0.0) -> float:
    value = os.environ.get(name) or str(default)
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number of seconds, not {value!r}.") from None
    if not number > above:
        raise ImproperlyConfigured(f"{name} must be more than {above:g}, not {value}.")
    return number


def _env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("FLOWSITE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = _env_flag("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: with DEBUG off Flowsite refuses to start with a default key. "
            "Set SECRET_KEY to a long random value (python -c 'import secrets; "
            "print(secrets.token_urlsafe(50))'), or DEBUG=1 for development."
        )
    SECRET_KEY = "flowsite-insecure-development-key-change-me"
ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS")

if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (os.environ["SECURE_PROXY_SSL_HEADER"], "https")
SECURE_SSL_REDIRECT = _env_flag("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = _env_flag("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = _env_flag("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS") or 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _env_flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = _env_flag("SECURE_HSTS_PRELOAD", False)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "workflows",  # before channels: its runworker command (Channels' own, with the runs worker)
    "channels",
    "reviews",
    "flowsite",
]

if django.VERSION < (6, 0):  # template partials are built into Django 6
    INSTALLED_APPS.insert(INSTALLED_APPS.index("workflows"), "template_partials")

# WhiteNoise is sync-only middleware: last, so that under ASGI the chain runs in one thread
# (Django adapts it once, around its async inner handler). Anywhere else it splits the chain,
# and Django's middleware outside it runs in async mode, each process_request and
# process_response a hop to a thread of its own: a logged-in GET took 6.0 ms over HTTP that way,
# 4.3 ms this way (bench/roundtrip.py's machine). Static requests pass the middleware above it
# (none of them reads the session or the database for them), which WhiteNoise's docs trade for
# speed the other way round under WSGI.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
]

ROOT_URLCONF = "flowsite.urls"

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

WSGI_APPLICATION = None
ASGI_APPLICATION = "flowsite.asgi.application"

_default_sqlite = VAR_DIR / "db.sqlite3"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{_default_sqlite}"), conn_max_age=600, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite: writers take the lock up front (no "database is locked" on read-then-write),
    # WAL lets readers run beside the writer. Tests use a file so that forked live servers
    # and subprocesses share it.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_db.sqlite3")}

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's psycopg pool (psycopg_pool): each process holds at most max_size connections,
    # whatever its thread count; a thread's connection goes back to the pool when Django closes
    # it (end of a request, of a consumer's database call, of an executor call), so no
    # persistent per-thread connections (Django refuses CONN_MAX_AGE with a pool).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # a pooled connection is checked on every checkout (one round trip) unless turned off
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = _env_flag("FLOWSITE_DB_POOL_CHECK", True)
    _pool = {
        "min_size": _env_int("FLOWSITE_DB_POOL_MIN_SIZE", 2),
        "max_size": _env_int("FLOWSITE_DB_POOL_MAX_SIZE", 10, minimum=1),
        # seconds a thread waits for a free connection before OperationalError (PoolTimeout)
        "timeout": _env_float("FLOWSITE_DB_POOL_TIMEOUT", 10.0),
    }
    if _pool["min_size"] > _pool["max_size"]:
        raise ImproperlyConfigured("FLOWSITE_DB_POOL_MIN_SIZE must not exceed FLOWSITE_DB_POOL_MAX_SIZE.")
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = _pool

if os.environ.get("DATABASE_TEST_NAME"):
    # several checkouts testing at once on one PostgreSQL server each need their own test database
    DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ["DATABASE_TEST_NAME"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL")
# Redis clients (the channel layer and the live cache), per process: socket timeouts in seconds
# (the read one longer than channels-redis' 5 s blocking read: flowsite.channel_layer), a
# bounded pool whose callers wait up to FLOWSITE_REDIS_POOL_TIMEOUT for a free connection, and
# a PING before using a connection idle for FLOWSITE_REDIS_HEALTH_CHECK_INTERVAL.
REDIS_OPTIONS = {
    "socket_timeout": _env_float("FLOWSITE_REDIS_SOCKET_TIMEOUT", 30.0),
    "socket_connect_timeout": _env_float("FLOWSITE_REDIS_CONNECT_TIMEOUT", 5.0),
    "max_connections": _env_int("FLOWSITE_REDIS_MAX_CONNECTIONS", 50, minimum=2),
    "timeout": _env_float("FLOWSITE_REDIS_POOL_TIMEOUT", 10.0),
    "health_check_interval": _env_int("FLOWSITE_REDIS_HEALTH_CHECK_INTERVAL", 15),
}
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "flowsite.channel_layer.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, **REDIS_OPTIONS}],
                "prefix": os.environ.get("FLOWSITE_CHANNEL_PREFIX") or "asgi",
                # messages waiting per channel (a slow WebSocket's), and how long they wait
                "capacity": _env_int("FLOWSITE_CHANNEL_CAPACITY", 100, minimum=1),
                "expiry": _env_int("FLOWSITE_CHANNEL_EXPIRY", 60, minimum=1),
                # seconds a group membership lasts (a socket in the group for longer is dropped
                # from it; at least the longest a thread page stays open)
                "group_expiry": _env_int("FLOWSITE_CHANNEL_GROUP_EXPIRY", 86400, minimum=1),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The text model calls are writing, kept while it streams (workflows.live) where every server
# process and executor reads it: Redis with REDIS_URL, else a database table (createcachetable).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "live": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"pool_class": "redis.BlockingConnectionPool", **REDIS_OPTIONS},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "flowsite_live_text"}
    ),
}

FLOWSITE_EXECUTOR = os.environ.get("FLOWSITE_EXECUTOR", "inprocess")
if FLOWSITE_EXECUTOR not in ("inprocess", "external"):
    raise ImproperlyConfigured(f"FLOWSITE_EXECUTOR must be inprocess or external, not {FLOWSITE_EXECUTOR!r}.")
FLOWSITE_EXECUTOR_CONCURRENCY = int(os.environ.get("FLOWSITE_EXECUTOR_CONCURRENCY", "8"))
FLOWSITE_RUNS_CHANNEL = os.environ.get("FLOWSITE_RUNS_CHANNEL", "flowsite.runs")
FLOWSITE_RUN_LEASE_SECONDS = float(os.environ.get("FLOWSITE_RUN_LEASE_SECONDS", "20"))
FLOWSITE_HEARTBEAT_SECONDS = float(os.environ.get("FLOWSITE_HEARTBEAT_SECONDS", "5"))
FLOWSITE_SWEEP_SECONDS = float(os.environ.get("FLOWSITE_SWEEP_SECONDS", "5"))
if not 0 < FLOWSITE_HEARTBEAT_SECONDS < FLOWSITE_RUN_LEASE_SECONDS:
    raise ImproperlyConfigured("FLOWSITE_HEARTBEAT_SECONDS must be above 0 and below FLOWSITE_RUN_LEASE_SECONDS.")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "reviews:inbox"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# WhiteNoise serves /static/ in every process (Daphne has no static file server). DEBUG is read
# here, at import: the test runner turns settings.DEBUG off later, and the tests keep serving
# from the source directories without collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"workflows": {"handlers": ["console"], "level": "INFO"}},
}

# Bounds of what people send (workflows.validation): workflow inputs and answers, as UTF-8 JSON.
FLOWSITE_MAX_JSON_DEPTH = int(os.environ.get("FLOWSITE_MAX_JSON_DEPTH", "64"))
FLOWSITE_MAX_INPUT_BYTES = int(os.environ.get("FLOWSITE_MAX_INPUT_BYTES", str(256 * 1024)))
FLOWSITE_MAX_ANSWER_BYTES = int(os.environ.get("FLOWSITE_MAX_ANSWER_BYTES", str(256 * 1024)))
# What is pushed to browsers (workflows.truncation): under channels-redis' 1 MiB message limit.
FLOWSITE_MAX_PUSH_BYTES = int(os.environ.get("FLOWSITE_MAX_PUSH_BYTES", str(64 * 1024)))
FLOWSITE_MAX_FRAME_BYTES = int(os.environ.get("FLOWSITE_MAX_FRAME_BYTES", str(512 * 1024)))
FLOWSITE_PREVIEW_BYTES = int(os.environ.get("FLOWSITE_PREVIEW_BYTES", str(2 * 1024)))

# Review notifications (reviews.notifications): Django's email framework; the console backend
# prints mail in development (tests use Django's locmem backend).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_flag("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "flowsite@localhost")
FLOWSITE_SITE_URL = os.environ.get("FLOWSITE_SITE_URL", "http://localhost:8000").rstrip("/")
FLOWSITE_REVIEW_LINK_MAX_AGE = int(
    os.environ.get("FLOWSITE_REVIEW_LINK_MAX_AGE", str(7 * 24 * 3600))
)
