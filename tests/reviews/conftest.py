import pytest


@pytest.fixture(autouse=True)
def external_executor(settings):
    """Runs stay queued unless a test executes them (``executor.execute_run``)."""
    settings.FLOWSITE_EXECUTOR = "external"
