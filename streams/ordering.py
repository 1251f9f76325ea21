"""Event-time reordering of several partitions into one total order, with a freshness watermark.

The history follower reads every partition of ``declarations`` and
``inspection-results``; partitions are each in event-time order but arrive
interleaved arbitrarily. An event ``e`` (event time ``t``, received at wall time
``r``) is released once no partition can still deliver an event that sorts
before it: every partition has either shown an event later than ``t``, or was
seen caught up (position >= highwater) in a fetch response processed after
``r`` -- such a response was created by the broker after ``e`` was produced,
so it covers everything published before ``e``. Released events come out in
their sort-key order, so the engine sees the same sequence as ``zeikan replay``
whatever the partition count or arrival interleaving (given each partition is
published in event-time order).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

_NEVER = -(2**63)


@dataclass
class _Source:
    max_time: int = _NEVER
    caught_up_at: int = _NEVER


class EventOrderer:
    """Buffers events of several sources and releases them in sort-key order when safe."""

    def __init__(self, sources: Iterable[Hashable]) -> None:
        self._sources = {source: _Source() for source in sources}
        self._heap: list[tuple[tuple, int, int, Any]] = []
        self._serial = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, source: Hashable, key: tuple, item: Any, received_at: int) -> None:
        """Buffer ``item`` of ``source``; ``key[0]`` is its event time."""
        state = self._sources[source]
        state.max_time = max(state.max_time, int(key[0]))
        heapq.heappush(self._heap, (key, next(self._serial), received_at, item))

    def observe(self, source: Hashable, caught_up: bool, polled_at: int) -> None:
        """``source`` was (or was not) caught up as of a fetch response processed at ``polled_at``."""
        if caught_up:
            state = self._sources[source]
            state.caught_up_at = max(state.caught_up_at, polled_at)

    def _safe(self, event_time: int, received_at: int) -> bool:
        return all(s.max_time > event_time or s.caught_up_at > received_at for s in self._sources.values())

    def pop_ready(self, limit: int | None = None) -> list[Any]:
        """Release (at most ``limit``) buffered items that nothing can precede any more, in order."""
        out: list[Any] = []
        heap = self._heap
        while heap and (limit is None or len(out) < limit):
            key, _, received_at, item = heap[0]
            if not self._safe(int(key[0]), received_at):
                break
            heapq.heappop(heap)
            out.append(item)
        return out
