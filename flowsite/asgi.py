"""ASGI entry point: HTTP through Django, WebSockets through Channels (served by Daphne)."""

import asyncio
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")
django_asgi_app = get_asgi_application()  # before importing consumers: it sets Django up

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from flowsite.request_threads import RequestThreads  # noqa: E402
from reviews.routing import websocket_urlpatterns as review_ws  # noqa: E402
from workflows.execution import publishing, worker  # noqa: E402
from workflows.routing import websocket_urlpatterns as workflow_ws  # noqa: E402


class ServeExecution:
    """On a server's first request (HTTP or WebSocket) in a process, tell the executor which
    event loop serves it, so its threads hand channel-layer sends to it (the in-memory layer is
    not thread-safe), and start the process's part of execution (``workflows.execution.worker.
    serve``: the sweep, and in the embedded default the worker consumer of the runs channel)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            loop = asyncio.get_running_loop()
            if publishing.bind_loop(loop):
                worker.serve(loop)
        return await self.app(scope, receive, send)


application = ServeExecution(
    ProtocolTypeRouter(
        {
            "http": RequestThreads(django_asgi_app),
            "websocket": AllowedHostsOriginValidator(
                AuthMiddlewareStack(URLRouter([*workflow_ws, *review_ws]))
            ),
            # background execution: wake messages to the worker consumer (manage.py runworker)
            "channel": worker.runs_application(),
        }
    )
)
