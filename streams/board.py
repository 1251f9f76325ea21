"""Verdicts the history follower computed, waiting for the agent that owns their partition."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterable

from zeikan.streams.engine.core import Verdict


class VerdictBoard:
    """Bounded map declaration_id -> verdict, with waiters; the oldest verdicts are evicted first.

    Every worker computes the verdicts of *all* declarations (the engine is global),
    so after a failover the new owner of a partition finds its verdicts here.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._verdicts: OrderedDict[str, Verdict] = OrderedDict()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}

    def __len__(self) -> int:
        return len(self._verdicts)

    def publish(self, verdicts: Iterable[Verdict]) -> None:
        """Make verdicts available and wake whoever waits for them."""
        for verdict in verdicts:
            key = verdict.declaration_id
            self._verdicts[key] = verdict
            for waiter in self._waiters.pop(key, ()):
                if not waiter.done():
                    waiter.set_result(None)
        while len(self._verdicts) > self._capacity:
            self._verdicts.popitem(last=False)

    async def wait_for(self, ids: Iterable[str], timeout_s: float) -> dict[str, Verdict]:
        """Verdicts of ``ids``; those still unknown after ``timeout_s`` are missing from the result."""
        ids = list(ids)
        loop = asyncio.get_running_loop()
        pending = []
        for key in ids:
            if key not in self._verdicts:
                waiter = loop.create_future()
                self._waiters.setdefault(key, []).append(waiter)
                pending.append(waiter)
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
            for waiter in pending:
                waiter.cancel()
        return {key: self._verdicts[key] for key in ids if key in self._verdicts}
