from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/threads/<int:pk>/", consumers.ThreadConsumer.as_asgi()),
]
