"""ASGI entry point: HTTP to Django, WebSockets to the game consumer (daphne and uvicorn)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gameserver.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs Django set up)
from django.urls import path, re_path  # noqa: E402

from games.routing import websocket_urlpatterns  # noqa: E402
from games.stream import StreamConsumer  # noqa: E402

# No AuthMiddlewareStack: a session cookie alone never opens a game socket, a ticket does.
# The consumer checks Origin against GAMESERVER_ALLOWED_ORIGINS itself.
application = ProtocolTypeRouter(
    {
        # The event streams skip Django's request handling (a long-lived response each).
        "http": URLRouter(
            [
                path("api/matches/<str:match_id>/stream", StreamConsumer.as_asgi()),
                re_path(r"", django_asgi_app),
            ]
        ),  # fmt: skip
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
