"""Fixtures of the differential runtime tests (no Django needed).

``saver_factory`` gives a function ``make(api) -> checkpointer``: LangGraph (the reference) always
gets its ``InMemorySaver``; Flowsite gets the checkpointer of the current parameter. The
parameters are the list ``FLOWSITE_SAVERS`` (read at collection time); to run every test that
uses ``saver_factory`` against another Flowsite checkpointer, append one entry, e.g.::

    def django_saver(request):
        from workflows import DjangoSaver

        return DjangoSaver()

    FLOWSITE_SAVERS.append(pytest.param(
        django_saver, id="django", marks=pytest.mark.django_db(transaction=True)))

(``transaction=True``: runs execute in worker threads, which do not see the test's transaction.
With that entry the whole suite passed against DjangoSaver on SQLite.) Each entry is a
``pytest.param`` whose value is ``make(request) -> checkpointer``; it is called once per
checkpointer a test asks for (a test may ask for several).
"""

from __future__ import annotations

import pytest

from .lg import LANGGRAPH


def memory_saver(request: pytest.FixtureRequest):
    from workflows import InMemorySaver

    return InMemorySaver()


def django_saver(request: pytest.FixtureRequest):
    from workflows import DjangoSaver

    return DjangoSaver()


FLOWSITE_SAVERS: list = [pytest.param(memory_saver, id="memory")]


def _savers(config: pytest.Config) -> list:
    """The in-memory saver always; with pytest-django active, DjangoSaver on the configured
    database too (SQLite by default, PostgreSQL when ``DATABASE_URL`` says so)."""
    if not config.pluginmanager.hasplugin("django"):
        return FLOWSITE_SAVERS
    from django.conf import settings

    vendor = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    return [
        *FLOWSITE_SAVERS,
        pytest.param(
            django_saver, id=f"django-{vendor}", marks=pytest.mark.django_db(transaction=True)
        ),
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # read at collection time, so entries appended to FLOWSITE_SAVERS anywhere count
    if "saver_factory" in metafunc.fixturenames:
        metafunc.parametrize("saver_factory", _savers(metafunc.config), indirect=True)


@pytest.fixture
def saver_factory(request: pytest.FixtureRequest):
    make_flowsite = request.param

    def make(api):
        if api is LANGGRAPH:
            return api.InMemorySaver()
        return make_flowsite(request)

    return make
