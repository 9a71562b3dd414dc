"""Settings of the worker processes the tests start: Flowsite's, plus the test app that
registers ``counted-steps``."""

from flowsite.settings import *  # noqa: F403
from flowsite.settings import CHANNEL_LAYERS, INSTALLED_APPS, REDIS_URL

INSTALLED_APPS = [*INSTALLED_APPS, "tests.workflows.worker_app"]

if CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts") == [REDIS_URL]:
    # redis-py's default 5 s read timeout is channels-redis' blocking read: every idle receive
    # would fail (issue 9, "the Redis channel layer drops clients"; fixed in the settings there)
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [{"address": REDIS_URL, "socket_timeout": 30}]
