"""pytest plugin (``-p flowsite.pytest_environment`` in pyproject.toml): the test run's environment.

Loaded before pytest-django imports the settings, so ``python -m pytest`` works from a bare shell:
``DEBUG=1`` unless the caller set it (a development ``SECRET_KEY``, static files served from the
source directories, no ``collectstatic``). Processes the tests start (``runworker``, child
interpreters) inherit it.
"""

import os

os.environ.setdefault("DEBUG", "1")
# The test process runs many threads that each hold a PostgreSQL connection while a test uses
# them (the executor's database threads, the runtime's I/O threads, asgiref's thread for async
# tests, a live server's threads): a production-sized pool (10) can be exhausted by one test's
# teardown waiting on them. Tests of the pool bound itself set their servers' sizes explicitly.
os.environ.setdefault("FLOWSITE_DB_POOL_MAX_SIZE", "40")
