from channels.auth import AuthMiddlewareStack
from django.urls import path

from games.consumers import PlayConsumer
from games.lobby_socket import LobbyConsumer

websocket_urlpatterns = [
    path("ws/play/", PlayConsumer.as_asgi()),
    # The lobby socket reads the session (who chats); a game socket is opened by a ticket only.
    path("ws/lobby/", AuthMiddlewareStack(LobbyConsumer.as_asgi())),
]
