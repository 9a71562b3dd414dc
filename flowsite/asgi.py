"""ASGI entry point: HTTP through Django, WebSockets through Channels (served by Daphne)."""

import asyncio
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")
django_asgi_app = get_asgi_application()  # before importing consumers: it sets Django up

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from reviews.routing import websocket_urlpatterns as review_ws  # noqa: E402
from django.conf import settings  # noqa: E402

from workflows.execution import publishing, recovery, threads  # noqa: E402
from workflows.routing import websocket_urlpatterns as workflow_ws  # noqa: E402


class BindExecutorLoop:
    """Tell the in-process executor which event loop serves this process, so its threads can
    hand channel-layer sends to it (the in-memory layer is not thread-safe); on the first
    request, recover this host's stale runs and wake the queued ones."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if publishing.bind_loop(asyncio.get_running_loop()) and settings.FLOWSITE_EXECUTOR == "inprocess":
            threads.db_threads().submit(recovery.recover)  # this host's stale runs, queued runs
        return await self.app(scope, receive, send)


application = BindExecutorLoop(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter([*workflow_ws, *review_ws]))
            ),
        }
    )
)
