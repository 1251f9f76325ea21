"""A TCP relay with a gate: a public port that forwards to a backend port only while open.

Used by :class:`~zeikan.streams.kafka.broker.EmbeddedBroker` in durable mode: Tansu listens on a
private port, clients on the relay's public port. The relay listens only while open; when
closed, new connections are refused and every relayed connection is closed. A relayed
connection also ends as soon as either side closes it (the backend dying ends its
clients' connections, as a direct connection would)::

    relay = TcpRelay("127.0.0.1")
    relay.open(9092, backend_port=40123)   # clients reach 40123 through 9092
    relay.close()                          # 9092 refuses, open connections end
    relay.shutdown()                       # the relay's thread ends too

It runs its own event loop in a daemon thread, so callers need none.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
CALL_TIMEOUT_S = 10.0
"""Longest wait for the relay's thread to open or close the gate."""


class _Side(asyncio.Protocol):
    """One end of a relayed connection: what it receives is written to its peer."""

    def __init__(self, sides: set[_Side], peer: _Side | None = None) -> None:
        self.sides = sides
        self.peer = peer
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.sides.add(self)

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.sides.discard(self)
        if self.peer is not None:
            self.peer.close()

    def pause_writing(self) -> None:  # our outgoing buffer is full: stop reading the peer
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def close(self) -> None:
        """Close after writing what is buffered."""
        if self.transport is not None:
            self.transport.close()


class _ClientSide(_Side):
    """A client's connection: silent until its backend connection is made, closed if none can be."""

    def __init__(self, sides: set[_Side], backend: tuple[str, int]) -> None:
        super().__init__(sides)
        self.backend = backend
        self._connecting: asyncio.Task[None] | None = None  # held: the loop keeps only weak references

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.pause_reading()
        self._connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        try:
            _, backend = await loop.create_connection(lambda: _Side(self.sides, peer=self), *self.backend)
        except OSError:
            self.close()
            return
        self.peer = backend
        if self.transport.is_closing():
            backend.close()
        else:
            self.transport.resume_reading()


class TcpRelay:
    """Forwards ``host:port`` to ``host:backend_port`` between :meth:`open` and :meth:`close`."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._sides: set[_Side] = set()

    @property
    def is_open(self) -> bool:
        """Whether the public port accepts connections."""
        return self._server is not None

    def open(self, port: int, backend_port: int) -> None:
        """Listen on ``port`` and relay to ``backend_port`` (closes first if open); OSError if busy."""
        self.call(self._open(port, backend_port))

    def close(self) -> None:
        """Stop listening and close every relayed connection (no-op when closed)."""
        if self._loop is not None:
            self.call(self._close())

    def shutdown(self) -> None:
        """:meth:`close`, then end the relay's thread (:meth:`open` starts a new one)."""
        self.close()
        loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(CALL_TIMEOUT_S)
            loop.close()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = CALL_TIMEOUT_S) -> T:
        """Run ``coroutine`` on the relay's event loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._running_loop()).result(timeout_s)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="zeikan-tcp-relay", daemon=True)
            self._thread.start()
        return self._loop

    async def _open(self, port: int, backend_port: int) -> None:
        await self._close()
        backend = (self.host, backend_port)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _ClientSide(self._sides, backend), self.host, port, reuse_address=True
        )

    async def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for side in list(self._sides):
            side.close()
