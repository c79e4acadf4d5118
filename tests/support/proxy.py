"""A TCP proxy in front of PostgreSQL that a fault test can cut and restore."""

import asyncio
import threading

from tests.support.processes import free_port


class TcpProxy:
    """A TCP proxy (asyncio, in a thread of its own) from a port of this suite's range to PostgreSQL.

    cut() closes every proxied connection and stops listening, so new connections are refused: to the servers
    behind it the database is gone. restore() listens again.
    """

    def __init__(self, target_port: int = 5432) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, name=f"tcp-proxy-{self.port}", daemon=True)

    def start(self) -> "TcpProxy":
        self.thread.start()
        self.restore()
        return self

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def restore(self) -> None:
        async def listen():
            self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

        self._call(listen())

    def cut(self) -> None:
        async def close_all():
            self.server.close()
            await self.server.wait_closed()
            for writer in list(self.writers):
                writer.transport.abort()
            self.writers.clear()

        self._call(close_all())

    def stop(self) -> None:
        if self.thread.is_alive():
            if self.server is not None and self.server.is_serving():
                self.cut()
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    async def _handle(self, client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self.writers.update((client_writer, upstream_writer))
        await asyncio.gather(
            self._pipe(client_reader, upstream_writer), self._pipe(upstream_reader, client_writer)
        )

    async def _pipe(self, reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.writers.discard(writer)
            writer.transport.abort()
