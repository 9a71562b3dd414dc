"""Fixtures shared by the whole suite."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _close_workflow_connections(request):
    """Close the database connections of the runtime's I/O threads before the test database
    is dropped (PostgreSQL refuses to drop a database that other sessions use)."""
    if request.config.pluginmanager.hasplugin("django"):
        request.getfixturevalue("django_db_setup")
    yield
    if request.config.pluginmanager.hasplugin("django"):
        from django.db import connections

        from workflows.runtime.pregel import io_workers

        io_workers().run_everywhere(connections.close_all)
