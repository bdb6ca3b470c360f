"""Origin allow-list for WebSocket handshakes: the defence against cross-site WebSocket
hijacking, where a page on another site opens a socket riding the player's cookies."""

from __future__ import annotations

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


class OriginAllowList:
    """Entries are origins (`https://play.example.com`); a port of `*` allows any port."""

    def __init__(self, entries: list[str]):
        self.entries = [self._parse(entry) for entry in entries]

    @staticmethod
    def _parse(origin: str) -> tuple[str, str, str]:
        text = origin.strip().lower().rstrip("/")
        any_port = text.endswith(":*")
        scheme, host, port = _split(text[:-2] if any_port else text)
        return scheme, host, "*" if any_port else port

    def allows(self, origin: str | None) -> bool:
        if not origin:
            return False
        try:
            scheme, host, port = _split(origin.strip().lower())
        except ValueError:
            return False
        return any(
            scheme == allowed_scheme and host == allowed_host and allowed_port in ("*", port)
            for allowed_scheme, allowed_host, allowed_port in self.entries
        )


def _split(origin: str) -> tuple[str, str, str]:
    parts = urlsplit(origin)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return parts.scheme, host, str(parts.port or DEFAULT_PORTS.get(parts.scheme, ""))


def origin_of(scope: dict) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"origin":
            return value.decode("latin-1")
    return None
