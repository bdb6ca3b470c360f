"""The engine host inside the web process, for the single-process default (no REDIS_URL)."""

from __future__ import annotations

import asyncio
from typing import Any

from games.engine.host import EngineHost

_hosts: dict[asyncio.AbstractEventLoop, EngineHost] = {}


async def start_embedded_engine(layer: Any) -> EngineHost:
    """Start this loop's engine host once; daphne sends no lifespan event to do it at boot."""
    loop = asyncio.get_running_loop()
    if loop not in _hosts:
        host = EngineHost(layer=layer, name="embedded")
        await host.start()
        _hosts[loop] = host
    return _hosts[loop]


async def stop_embedded_engine() -> None:
    host = _hosts.pop(asyncio.get_running_loop(), None)
    if host is not None:
        await host.stop()
