"""Fixtures of the differential runtime tests (no Django needed).

``saver_factory`` gives a function ``make(api) -> checkpointer``: LangGraph (the reference) always
gets its ``InMemorySaver``; Flowsite gets the checkpointer of the current parameter. The
parameters are the list ``FLOWSITE_SAVERS``; to run every test against another Flowsite
checkpointer, append one entry, e.g.::

    def django_saver(request):
        request.getfixturevalue("transactional_db")  # runs execute in worker threads
        from workflows import DjangoSaver
        return DjangoSaver()

    FLOWSITE_SAVERS.append(pytest.param(django_saver, id="django", marks=pytest.mark.django_db))

Each entry is a ``pytest.param`` whose value is ``make(request) -> checkpointer``; it is called
once per checkpointer a test asks for (a test may ask for several).
"""

from __future__ import annotations

import pytest

from .lg import LANGGRAPH


def memory_saver(request: pytest.FixtureRequest):
    from workflows import InMemorySaver

    return InMemorySaver()


FLOWSITE_SAVERS: list = [pytest.param(memory_saver, id="memory")]


@pytest.fixture(params=FLOWSITE_SAVERS)
def saver_factory(request: pytest.FixtureRequest):
    make_flowsite = request.param

    def make(api):
        if api is LANGGRAPH:
            return api.InMemorySaver()
        return make_flowsite(request)

    return make
