"""Flowsite settings, configured from the environment.

Environment variables:
- ``DATABASE_URL``: database (default: the SQLite file ``var/db.sqlite3``); ``postgres://...`` uses psycopg 3.
- ``REDIS_URL``: when set, Channels uses ``channels-redis`` and the ``live`` cache Redis; otherwise
  the in-memory layer and a database cache table (``manage.py createcachetable``).
- ``SECRET_KEY``, ``DEBUG`` (``1``/``0``, default ``1``), ``ALLOWED_HOSTS`` (comma-separated).
- ``FLOWSITE_EXECUTOR``: ``inprocess`` (default: runs execute in the server process) or
  ``external`` (runs wait in the database for ``manage.py run_executor`` workers);
  ``FLOWSITE_EXECUTOR_CONCURRENCY``: runs executed at once in process (default 8).
- ``FLOWSITE_CHAT_MODEL``: ``provider:model`` for the streaming essay example (default: a fake
  streaming chat model, offline).
"""

import os
from pathlib import Path

import dj_database_url
import django

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("FLOWSITE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("SECRET_KEY", "flowsite-insecure-development-key-change-me")
DEBUG = os.environ.get("DEBUG", "1") == "1"
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "workflows",
    "reviews",
    "flowsite",
]

if django.VERSION < (6, 0):  # template partials are built into Django 6
    INSTALLED_APPS.insert(INSTALLED_APPS.index("workflows"), "template_partials")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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

if os.environ.get("DATABASE_TEST_NAME"):
    # several checkouts testing at once on one PostgreSQL server each need their own test database
    DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ["DATABASE_TEST_NAME"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The text model calls are writing, kept while it streams (workflows.live) where every server
# process and executor reads it: Redis with REDIS_URL, else a database table (createcachetable).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "live": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "flowsite_live_text"}
    ),
}

FLOWSITE_EXECUTOR = os.environ.get("FLOWSITE_EXECUTOR", "inprocess")
FLOWSITE_EXECUTOR_CONCURRENCY = int(os.environ.get("FLOWSITE_EXECUTOR_CONCURRENCY", "8"))

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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"workflows": {"handlers": ["console"], "level": "INFO"}},
}
