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
from games.engine.metrics_server import start_metrics_server
from games.supervise import retry_forever

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run an engine host: claims matches, ticks them, streams frames to web processes."

    def add_arguments(self, parser):
        parser.add_argument("--name", default="engine", help="shown in logs")
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=settings.GAMESERVER["ENGINE_METRICS_PORT"],
            help="serve /metrics and /healthz on this port (0: off; "
            "GAMESERVER_ENGINE_METRICS_PORT)",
        )
        parser.add_argument(
            "--metrics-host",
            default="127.0.0.1",
            help="address the metrics port binds (default: loopback only)",
        )

    def handle(self, *args, **options):
        if not settings.REDIS_URL:
            raise CommandError(
                "runengine needs REDIS_URL: without it the engine runs inside the web process "
                "(the embedded default), and a separate engine could never reach its players."
            )
        metrics = (options["metrics_host"], options["metrics_port"])
        uvloop.run(self._run(options["name"], metrics))  # measurably cheaper per Redis message

    async def _run(self, name: str, metrics: tuple[str, int]) -> None:
        host = EngineHost(layer=get_channel_layer(), name=name)
        bind, port = metrics
        # Before Redis is reached: /healthz answers (started false) while the engine waits.
        server = await start_metrics_server(host, bind, port) if port else None
        if server is not None:
            log.info("engine %s: /metrics and /healthz on http://%s:%d", name, bind, port)
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
        if server is not None:
            server.close()
        log.info("engine %s stopped", name)
