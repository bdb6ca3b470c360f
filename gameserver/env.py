"""Reading settings from the environment, and refusing an unsafe production configuration."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use 1 or 0")


def env_number(name: str, default: float, *, minimum: float, maximum: float) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None
    if not minimum <= value <= maximum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be between {minimum} and {maximum}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_delays(name: str) -> dict[str, float]:
    """Seconds per game name, written "game=seconds,game=seconds" (each 0 to 600)."""
    delays = {}
    for item in env_list(name):
        game, _, seconds = item.partition("=")
        try:
            value = float(seconds)
        except ValueError:
            value = -1.0
        if not game.strip() or not 0 <= value <= 600:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not game=seconds (0 to 600), e.g. lightcycles=0,chess=5"
            )
        delays[game.strip()] = value
    return delays


SECRET_KEY_MIN_LENGTH = 50  # Django's own deployment check asks for 50 and 5 distinct
SECRET_KEY_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"


def check_production(
    *, debug: bool, secret_key: str, allowed_hosts: list[str], allowed_origins: list[str]
) -> None:
    """Refuse to start a non-debug server that would be unsafe, naming every setting to fix:
    missing ones, a guessable secret key, and a `*` that would let any host or origin in."""
    if debug:
        return
    required = {
        "DJANGO_SECRET_KEY (a long random string)": secret_key,
        "DJANGO_ALLOWED_HOSTS (comma-separated host names)": allowed_hosts,
        "GAMESERVER_ALLOWED_ORIGINS (comma-separated origins, e.g. https://play.example.com)": (
            allowed_origins
        ),
    }
    problems = [f"missing {name}" for name, value in required.items() if not value]
    if secret_key and (len(secret_key) < SECRET_KEY_MIN_LENGTH or len(set(secret_key)) < 5):
        problems.append(
            f"DJANGO_SECRET_KEY is too easy to guess ({len(secret_key)} characters, "
            f"{len(set(secret_key))} different): set at least {SECRET_KEY_MIN_LENGTH} random "
            f"characters ({SECRET_KEY_HINT})"
        )
    if any("*" in host for host in allowed_hosts):
        problems.append(
            "DJANGO_ALLOWED_HOSTS has a '*': name the site's host names (play.example.com)"
        )
    if any("*" in _without_port_wildcard(origin) for origin in allowed_origins):
        problems.append(
            "GAMESERVER_ALLOWED_ORIGINS has a '*' in place of a scheme or host: name the "
            "origins (https://play.example.com; only the port may be '*')"
        )
    if problems:
        raise ImproperlyConfigured(
            "DJANGO_DEBUG is off, so production settings are required: "
            + "; ".join(problems)
            + ". Set them, or set DJANGO_DEBUG=1 for local development."
        )


def _without_port_wildcard(origin: str) -> str:
    origin = origin.strip().rstrip("/")
    return origin[:-2] if origin.endswith(":*") else origin


def admin_path(name: str, default: str = "admin/") -> str:
    """The admin's URL prefix ("ops-7f3a/"): not guessable by default-path scanners when set,
    and never one that would hide the game's own pages."""
    raw = os.environ.get(name, default)
    path = raw.strip().strip("/") + "/"
    reserved = ("api", "ws", "static")
    if path == "/" or " " in path or path.split("/")[0] in reserved:
        raise ImproperlyConfigured(
            f"{name}={raw!r} must be a URL path such as ops-console/, not empty and not "
            f"under {', '.join(p + '/' for p in reserved)}"
        )
    return path
