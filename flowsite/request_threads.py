"""HTTP requests' synchronous work on kept threads, not on a new thread per request.

Django's ``ASGIHandler`` enters asgiref's ``ThreadSensitiveContext()`` around each request, so
the request's synchronous part (sync middleware, the view, ``request_started``/``request_finished``
receivers) runs on a one-thread executor made for that request, then shut down and joined by
another new thread. Per request that is two threads started and joined, and, since Django's
database connections are per thread, a new database connection: on SQLite (``CONN_MAX_AGE``
600) the previous request's connection is left open on its retired thread until the garbage
collector finds it (Django's docs advise against persistent connections under ASGI for this
reason).

:class:`RequestThreads` wraps the HTTP application in ``ThreadSensitiveContext(executor=...)``
(asgiref 3.10+: "the caller owns the executor: it is not shut down on exit") with a one-thread
executor taken from those earlier requests left idle, so a request runs on a thread that already
has its connection, and ``CONN_MAX_AGE`` means what it means under WSGI. Django's own inner
``ThreadSensitiveContext()`` then finds this one entered and uses it. As many threads as there
are concurrent requests, as before; at most :data:`IDLE_THREADS` are kept between requests (the
rest close their database connections and end), and only after a request that returned: a
cancelled or failed request's thread may still be busy with its work, so it ends instead.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.db import connections

__all__ = ["IDLE_THREADS", "RequestThreads"]

IDLE_THREADS = 16


class RequestThreads:
    """ASGI middleware: each ``http`` request's thread-sensitive work on a kept one-thread
    executor (see the module's docstring); other scope types pass through unchanged.

    Requests are served on one event loop (Daphne's), so the idle list needs no lock."""

    def __init__(self, app, *, idle_threads: int = IDLE_THREADS) -> None:
        self.app = app
        self.idle_threads = idle_threads
        self.idle: list[ThreadPoolExecutor] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        executor = self.idle.pop() if self.idle else ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="flowsite-request"
        )
        try:
            async with ThreadSensitiveContext(executor=executor):
                result = await self.app(scope, receive, send)
        except BaseException:
            # cancelled (Daphne gives up on a request after its close timeout) or failed: its
            # thread may still be running the request's work, which another request must not
            # queue behind; so it ends (once that work is done), and nobody reuses it
            _end(executor)
            raise
        # Django's handler has awaited all its thread-sensitive work (the view, and after a
        # disconnect the request_finished receivers queued behind it): the thread is idle
        self._give_back(executor)
        return result

    def _give_back(self, executor: ThreadPoolExecutor) -> None:
        if len(self.idle) < self.idle_threads:
            self.idle.append(executor)
        else:
            _end(executor)

    def close_idle(self) -> None:
        """End the idle threads, each closing its database connections first."""
        while self.idle:
            _end(self.idle.pop())


def _end(executor: ThreadPoolExecutor) -> None:
    executor.submit(connections.close_all)  # the thread's own connections, before it ends
    executor.shutdown(wait=False)
