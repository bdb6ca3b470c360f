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


def check_production(
    *, debug: bool, secret_key: str, allowed_hosts: list[str], allowed_origins: list[str]
) -> None:
    """Refuse to start a non-debug server that would be unsafe, naming every missing setting."""
    if debug:
        return
    missing = []
    if not secret_key:
        missing.append("DJANGO_SECRET_KEY (a long random string)")
    if not allowed_hosts:
        missing.append("DJANGO_ALLOWED_HOSTS (comma-separated host names)")
    if not allowed_origins:
        missing.append(
            "GAMESERVER_ALLOWED_ORIGINS (comma-separated origins, e.g. https://play.example.com)"
        )
    if missing:
        raise ImproperlyConfigured(
            "DJANGO_DEBUG is off, so production settings are required; missing: "
            + "; ".join(missing)
            + ". Set them, or set DJANGO_DEBUG=1 for local development."
        )
