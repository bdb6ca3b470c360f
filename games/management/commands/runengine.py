"""`python manage.py runengine`: an engine host process (Procfile `engine:`)."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal

import uvloop
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from games import redis_client
from games.engine.host import EngineHost
from games.supervise import retry_forever

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run an engine host: claims matches, ticks them, streams frames to web processes."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="engine", help="shown in logs")

    def handle(self, *args, **options):
        if not settings.REDIS_URL:
            raise CommandError(
                "runengine needs REDIS_URL: without it the engine runs inside the web process "
                "(the embedded default), and a separate engine could never reach its players."
            )
        uvloop.run(self._run(options["name"]))  # measurably cheaper per Redis message

    async def _run(self, name: str) -> None:
        host = EngineHost(layer=get_channel_layer(), name=name)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # Started while Redis is away (a restart of both): wait for it instead of exiting, so
        # the process manager need not restart us, and say what to check.
        where = redis_client.display(settings.REDIS_URL)
        await retry_forever(
            f"engine {name}: reaching REDIS_URL {where} (start redis-server or fix REDIS_URL)",
            host.start,
        )
        gc.freeze()  # start-up objects never need collecting; fewer long GC pauses in ticks
        self.stdout.write(f"engine {name} running; Ctrl-C or SIGTERM hands its matches over")
        await stop.wait()
        await host.stop()
        log.info("engine %s stopped", name)
