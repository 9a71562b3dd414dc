"""Production settings (issue 9, item 8): DEBUG off unless ``DEBUG=1``, no default SECRET_KEY with
DEBUG off, static files from WhiteNoise (compressed, hashed names), ``check --deploy`` clean with
the README's production environment. Each case is a fresh interpreter with only the environment
given (the settings are read once, at import)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEY = (
    "p9R-2vXk_q7LmZ0wT3yB8nC4sF6hJ1dGaE5uVoKiWrQxNtYbMlPz"  # 52 characters, as check --deploy wants
)

# The README's "Production" environment (its host names), without DATABASE_URL / REDIS_URL:
# check --deploy reads neither.
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": KEY,
    "ALLOWED_HOSTS": "flowsite.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://flowsite.example.com",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def run(args, env, tmp_path):
    """``python args...`` in the project root with only ``env`` (and PATH), its own var dir."""
    bare = {"PATH": os.environ["PATH"], "FLOWSITE_VAR_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=bare, capture_output=True, text=True, timeout=120
    )


def settings_value(name, env, tmp_path):
    probe = (
        "import django; django.setup(); from django.conf import settings; "
        f"print(repr(settings.{name}))"
    )
    done = run(["-c", probe], {"DJANGO_SETTINGS_MODULE": "flowsite.settings", **env}, tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_debug_is_off_unless_explicitly_on(tmp_path):
    assert settings_value("DEBUG", {"SECRET_KEY": KEY}, tmp_path) == "False"
    assert settings_value("DEBUG", {"SECRET_KEY": KEY, "DEBUG": "0"}, tmp_path) == "False"
    assert settings_value("DEBUG", {"DEBUG": "1"}, tmp_path) == "True"


def test_an_unclear_debug_value_is_refused(tmp_path):
    done = run(["manage.py", "check"], {"DEBUG": "yes", "SECRET_KEY": KEY}, tmp_path)
    assert done.returncode != 0
    assert "DEBUG must be 1 (on) or 0 (off), not 'yes'" in done.stderr


def test_the_server_refuses_to_start_with_debug_off_and_no_secret_key(tmp_path):
    for env in ({}, {"DEBUG": "0"}, {"DEBUG": "0", "SECRET_KEY": ""}):
        done = run(["manage.py", "check"], env, tmp_path)
        assert done.returncode != 0, env
        assert "ImproperlyConfigured: SECRET_KEY is not set" in done.stderr, done.stderr
    # the ASGI application Daphne loads refuses the same way
    done = run(["-c", "import flowsite.asgi"], {}, tmp_path)
    assert done.returncode != 0 and "SECRET_KEY is not set" in done.stderr


def test_check_deploy_is_clean_with_the_documented_production_environment(tmp_path):
    done = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout
    # without them, it warns (the test can fail)
    done = run(["manage.py", "check", "--deploy"], {"DEBUG": "1"}, tmp_path)
    for warning in ("W004", "W008", "W009", "W012", "W016", "W018"):
        assert f"security.{warning}" in done.stderr


def test_whitenoise_serves_collected_static_files_compressed_with_hashed_names(tmp_path):
    env = {**PRODUCTION, "ALLOWED_HOSTS": "testserver"}
    done = run(["manage.py", "collectstatic", "--noinput", "--verbosity", "0"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    probe = """
import django; django.setup()
from django.templatetags.static import static
from django.test import Client
url = static("vendor/htmx-2.0.11.min.js")
plain = Client().get(url, secure=True)
gzipped = Client().get(url, secure=True, headers={"accept-encoding": "gzip"})
missing = Client().get("/static/vendor/htmx-2.0.11.min.js", secure=True)
fields = (url, plain.status_code, b"htmx" in b"".join(plain.streaming_content),
          plain["Cache-Control"], gzipped.get("Content-Encoding"), missing.status_code)
print("|".join(map(str, fields)))
"""
    done = run(["-c", probe], {"DJANGO_SETTINGS_MODULE": "flowsite.settings", **env}, tmp_path)
    assert done.returncode == 0, done.stderr
    url, status, is_htmx, cache_control, encoding, unhashed = done.stdout.strip().split("|")
    assert url.startswith("/static/vendor/htmx-2.0.11.min.") and url.endswith(".js")
    assert url != "/static/vendor/htmx-2.0.11.min.js"  # the manifest's hashed name
    assert (status, is_htmx, encoding) == ("200", "True", "gzip")
    assert "immutable" in cache_control
    assert unhashed == "200"  # the original name is still served (WhiteNoise keeps both)
