"""Backpressure for the decider: a declarations partition with a long queue stops being fetched.

A declaration waits in its partition's queue until its epoch is decidable. When a backlog is
published faster than the decider folds epochs (a replayed history, a restart behind), the
queues grew without bound: 300,000-400,000 declarations and 2.2 GB in one worker at 700,000
declarations of history (round 4). Faust's ``pause_partitions`` only hides records that the
aiokafka fetcher has already buffered, and a buffered, hidden partition keeps aiokafka from
fetching any other partition of the same broker, so the epochs stalled (round 3). The gate
pauses the *fetch* itself: aiokafka's ``pause``, called on Faust's consumer thread.

A partition is paused once ``high`` declarations wait in it and resumed once no more than
``low`` do. It cannot hold the frontier back: what it has already received closes its earlier
epochs (markers carry the newest epoch received), so its own queue drains as the other
partitions catch up. A rebalance starts every partition unpaused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sized
from typing import Any

from aiokafka import TopicPartition
from faust.types import TP


class FetchGate:
    """Which partitions to pause or resume for queue lengths, with hysteresis between ``low`` and ``high``."""

    def __init__(self, high: int) -> None:
        self.high = high
        self.low = high // 2
        self.paused: set[TP] = set()
        self.pauses = 0
        """Times a partition was paused (``/zeikan/state``)."""

    def changes(self, queues: Mapping[TP, Sized]) -> tuple[set[TP], set[TP]]:
        """The partitions to pause and to resume now, given each one's queue; both are recorded."""
        pause = {tp for tp, queue in queues.items() if len(queue) >= self.high and tp not in self.paused}
        resume = {tp for tp in self.paused if len(queues.get(tp, ())) <= self.low}
        self.paused = (self.paused - resume) | pause
        self.pauses += len(pause)
        return pause, resume

    def reset(self) -> None:
        """Forget what was paused (a rebalance gives every partition a fresh, unpaused fetch state)."""
        self.paused.clear()

    async def apply(self, consumer: Any, pause: set[TP], resume: set[TP]) -> None:
        """Pause and resume the fetch of those partitions on Faust's aiokafka consumer ``consumer``."""
        if not (pause or resume):
            return
        thread = consumer._thread  # noqa: SLF001  # the aiokafka consumer lives on this thread's loop

        async def on_thread() -> None:
            client = thread._ensure_consumer()  # noqa: SLF001
            assigned = client.assignment()
            client.pause(*[tp for tp in _aiokafka(pause) if tp in assigned])
            client.resume(*[tp for tp in _aiokafka(resume) if tp in assigned])

        await thread.call_thread(on_thread)


def _aiokafka(tps: set[TP]) -> list[TopicPartition]:
    return [TopicPartition(tp.topic, tp.partition) for tp in tps]
