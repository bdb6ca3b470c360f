"""A TCP proxy between test clients and a web process, for the network faults a real one has:
cut every connection at once (Wi-Fi switched), or go silent without closing (a dead NAT, a
laptop lid) so that only liveness checks can tell."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from tests.support import free_port


class FaultyProxy:
    """Forwards 127.0.0.1:<port> to `target_port` on its own event loop thread."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.frozen = False  # while set, bytes are read and thrown away in both directions
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="faulty-proxy")
        self._thread.start()
        if not self._ready.wait(10) or self._failure is not None:
            raise RuntimeError(f"the proxy could not listen on port {self.port}: {self._failure}")

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/play/"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, "127.0.0.1", self.port)
            )
        except OSError as error:  # the free port was taken in between: say so, don't hang
            self._failure = error
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            except OSError:
                writer.close()
                return
            self._writers.update((writer, up_writer))
            await asyncio.gather(
                self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
            )
            self._writers.difference_update((writer, up_writer))
        finally:
            self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if not self.frozen:
                    writer.write(data)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def _abort_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def cut(self) -> None:
        """Reset every open connection, as a network change does; new ones still pass."""
        self._loop.call_soon_threadsafe(self._abort_all)

    def freeze(self) -> None:
        """Stop forwarding without closing anything: each side sees a silent, open socket."""
        self.frozen = True

    def thaw(self) -> None:
        """Forward again; a socket that lost bytes while frozen is broken, new ones are not."""
        self.frozen = False

    def close(self) -> None:
        """Reset every connection, stop listening, and end the thread with nothing pending."""
        if not self._thread.is_alive():
            return

        async def stop() -> None:
            self._server.close()
            self._abort_all()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=5)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
