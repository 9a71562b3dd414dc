"""Settings of the served benchmarks' processes (``bench/harness.py``): Flowsite's, plus
``bench.app`` (its ``counted-essay`` and ``ticker`` workflows)."""

from flowsite.settings import *  # noqa: F403
from flowsite.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "bench.app"]
