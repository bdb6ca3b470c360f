"""Settings for the pytest process itself: debug, embedded (no Redis), fast bot fill.

Servers that tests start as real processes get their own environment (tests/support.py); the
Redis that a developer points REDIS_URL at is handed to those, not used by this process.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("GAMESERVER_BOT_FILL_SECONDS", "1")
os.environ.setdefault("GAMESERVER_PRIVATE_BOT_FILL_SECONDS", "1")
os.environ["GAMESERVER_TEST_REDIS_URL"] = os.environ.pop("REDIS_URL", "")

from gameserver.settings import *  # noqa: E402,F403
