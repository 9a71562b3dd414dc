"""Under ASGI a request's middleware runs in one thread: Django hands the sync chain to a thread
once, not each middleware's ``process_request`` and ``process_response`` to a thread of its own
(what a sync-only middleware in the middle of ``MIDDLEWARE`` causes: WhiteNoise, see settings)."""

import pytest
from asgiref import sync
from channels.testing import HttpCommunicator

from flowsite.asgi import django_asgi_app


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_request_hops_to_a_thread_for_its_signals_and_its_middleware_chain_only(monkeypatch):
    hops = []
    original = sync.SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted)
    communicator = HttpCommunicator(django_asgi_app, "GET", "/accounts/login/", headers=[
        (b"host", b"localhost"), (b"x-forwarded-proto", b"https")])
    response = await communicator.get_response()
    assert response["status"] == 200
    # request_started's receivers, the middleware chain, and in Django's async inner handler the
    # view middleware, the view and its template's render (the last three back in the chain's
    # thread); with WhiteNoise second in MIDDLEWARE, as its docs place it, 15
    assert len(hops) <= 5, hops
