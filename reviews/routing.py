from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/inbox/", consumers.InboxConsumer.as_asgi()),
    path("ws/reviews/<int:pk>/", consumers.ReviewConsumer.as_asgi()),
]
