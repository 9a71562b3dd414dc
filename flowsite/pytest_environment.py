"""pytest plugin (``-p flowsite.pytest_environment`` in pyproject.toml): the test run's environment.

Loaded before pytest-django imports the settings, so ``python -m pytest`` works from a bare shell:
``DEBUG=1`` unless the caller set it (a development ``SECRET_KEY``, static files served from the
source directories, no ``collectstatic``). Processes the tests start (``runworker``, child
interpreters) inherit it.
"""

import os

os.environ.setdefault("DEBUG", "1")
