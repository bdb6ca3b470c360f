"""ASGI entry point: HTTP to Django, WebSockets to the game consumer (daphne and uvicorn)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gameserver.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs Django set up)

from games.routing import websocket_urlpatterns  # noqa: E402

# No AuthMiddlewareStack: a session cookie alone never opens a game socket, a ticket does.
# The consumer checks Origin against GAMESERVER_ALLOWED_ORIGINS itself.
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
