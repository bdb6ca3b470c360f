"""Production mode refuses unsafe configuration and passes Django's deployment checks."""

from __future__ import annotations

import os
import secrets
import subprocess

from tests.support import PYTHON, ROOT

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "play.example.com",
    "GAMESERVER_ALLOWED_ORIGINS": "https://play.example.com",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "GAMESERVER_"))}
    base.pop("REDIS_URL", None)
    base["DJANGO_SETTINGS_MODULE"] = "gameserver.settings"
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        env={**base, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_passes_with_production_settings():
    done = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_production_mode_names_every_missing_setting():
    done = manage("check", DJANGO_DEBUG="0")
    assert done.returncode != 0
    for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "GAMESERVER_ALLOWED_ORIGINS"):
        assert name in done.stderr


def test_debug_is_off_unless_asked_for():
    done = manage("check", **{k: v for k, v in PRODUCTION.items() if k != "DJANGO_DEBUG"})
    assert done.returncode == 0, done.stderr
    done = manage("check")
    assert done.returncode != 0 and "DJANGO_SECRET_KEY" in done.stderr


def test_a_bad_value_is_named():
    done = manage("check", DJANGO_DEBUG="maybe")
    assert done.returncode != 0 and "DJANGO_DEBUG='maybe' is not a boolean" in done.stderr


def test_production_refuses_a_short_secret_key_and_a_star_naming_what_to_set():
    unsafe = {
        "DJANGO_SECRET_KEY": "s" * 49,
        "DJANGO_ALLOWED_HOSTS": "play.example.com,*",
        "GAMESERVER_ALLOWED_ORIGINS": "*",
    }
    done = manage("check", **{**PRODUCTION, **unsafe})
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY is too easy to guess (49 characters, 1 different)" in done.stderr
    assert "set at least 50 random characters" in done.stderr
    assert "DJANGO_ALLOWED_HOSTS has a '*'" in done.stderr
    assert "GAMESERVER_ALLOWED_ORIGINS has a '*'" in done.stderr
    done = manage("check", **{**PRODUCTION, "GAMESERVER_ALLOWED_ORIGINS": "https://*.example.com"})
    assert done.returncode != 0 and "GAMESERVER_ALLOWED_ORIGINS has a '*'" in done.stderr
    # A port of '*' names the host all the same (the allow-list's documented form).
    any_port = {"GAMESERVER_ALLOWED_ORIGINS": "https://play.example.com:*"}
    done = manage("check", **{**PRODUCTION, **any_port})
    assert done.returncode == 0, done.stderr


def test_production_defaults_of_the_admin_and_the_proxy():
    """Strict where a mistake is cheap to undo, off where it is not (HSTS preload)."""
    show = (
        "from django.conf import settings as s; print(repr(["
        "s.ADMIN_PATH, s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds(),"
        "s.STAFF_SESSION_SECONDS, s.SESSION_COOKIE_AGE, s.SECURE_HSTS_SECONDS,"
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.SECURE_PROXY_SSL_HEADER]))"
    )
    done = manage("shell", "-c", show, **PRODUCTION)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == repr(
        ["admin/", 5, 900.0, 4 * 3600, 30 * 86400, 31536000, False, False, None]
    )
    done = manage("shell", "-c", show, **PRODUCTION, DJANGO_BEHIND_PROXY="1")
    assert "('HTTP_X_FORWARDED_PROTO', 'https')" in done.stdout, done.stderr
    done = manage("check", **PRODUCTION, DJANGO_ADMIN_PATH="api/")
    assert done.returncode != 0 and "DJANGO_ADMIN_PATH='api/' must be a URL path" in done.stderr
