"""What the history follower learned, waiting for the agent that owns the partition.

The follower decodes and validates every declaration once; the ``decide`` agent
reads the same messages through Faust but never decodes them again: it looks up
what the follower read at each (partition, offset) -- a declaration id or the
reason it was rejected -- and then that declaration's verdict.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from zeikan.streams.engine.core import Verdict

V = TypeVar("V")

Position = tuple[int, int]
"""(partition, offset) of a ``declarations`` message."""


@dataclass(frozen=True)
class Rejected:
    """A declarations message the follower could not decode or validate."""

    kind: str
    message: str


class _WaitMap(Generic[V]):
    """Bounded map with waiters; the oldest entries are evicted first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._waiters: dict[Hashable, list[asyncio.Future[None]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: Hashable, value: V) -> None:
        self._entries[key] = value
        if self._waiters:
            for waiter in self._waiters.pop(key, ()):
                if not waiter.done():
                    waiter.set_result(None)
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    async def wait(self, keys: list[Hashable], timeout_s: float) -> dict[Hashable, V]:
        loop = asyncio.get_running_loop()
        pending = []
        for key in keys:
            if key not in self._entries:
                waiter = loop.create_future()
                self._waiters.setdefault(key, []).append(waiter)
                pending.append(waiter)
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
            for waiter in pending:
                waiter.cancel()
        return {key: self._entries[key] for key in keys if key in self._entries}


class VerdictBoard:
    """Verdicts by declaration id and read outcomes by (partition, offset), each bounded by ``capacity``.

    Every worker computes the verdicts of *all* declarations (the engine is global),
    so after a failover the new owner of a partition finds its verdicts here.
    """

    def __init__(self, capacity: int) -> None:
        self._verdicts: _WaitMap[Verdict] = _WaitMap(capacity)
        self._reads: _WaitMap[str | Rejected] = _WaitMap(capacity)

    def __len__(self) -> int:
        return len(self._verdicts)

    def note_read(self, position: Position, outcome: str | Rejected) -> None:
        """The follower read the message at ``position``: a declaration id, or why it was rejected."""
        self._reads.put(position, outcome)

    def publish(self, verdicts: Iterable[Verdict]) -> None:
        """Make verdicts available and wake whoever waits for them."""
        for verdict in verdicts:
            self._verdicts.put(verdict.declaration_id, verdict)

    async def wait_for_reads(self, positions: Iterable[Position], timeout_s: float) -> dict[Position, str | Rejected]:
        """Read outcomes of ``positions``; those still unknown after ``timeout_s`` are missing from the result."""
        return await self._reads.wait(list(positions), timeout_s)  # type: ignore[return-value]

    async def wait_for(self, ids: Iterable[str], timeout_s: float) -> dict[str, Verdict]:
        """Verdicts of ``ids``; those still unknown after ``timeout_s`` are missing from the result."""
        return await self._verdicts.wait(list(ids), timeout_s)  # type: ignore[return-value]
