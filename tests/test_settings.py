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
