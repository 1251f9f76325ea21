"""The facts follower's snapshot cadence, driven by a stand-in consumer (pure, no broker)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.facts import Fact, encode_fact
from zeikan.streams.engine.shared_state import SharedState
from zeikan.streams.facts_log import FactsFollower
from zeikan.streams.snapshots import SnapshotStore


class _Done(Exception):
    """Ends the follower's loop once the scripted batches are read."""


class _Consumer:
    """Hands out scripted batches of facts-log records, then stops the loop."""

    def __init__(self, batches: list[list[Fact]]) -> None:
        self._batches = batches
        self._offset = 0

    async def getmany(self, tp, timeout_ms: int, max_records: int):  # type: ignore[no-untyped-def]
        if not self._batches:
            raise _Done
        records = []
        for fact in self._batches.pop(0):
            value, headers = encode_fact(fact)
            records.append(SimpleNamespace(offset=self._offset, value=value, headers=headers))
            self._offset += 1
        return {tp: records}

    def last_poll_timestamp(self, tp) -> int:  # type: ignore[no-untyped-def]
        return 1

    def highwater(self, tp) -> int:  # type: ignore[no-untyped-def]
        return self._offset


def test_facts_that_do_not_advance_the_state_still_count_towards_the_next_snapshot(tmp_path: Path) -> None:
    # one of two sources marks epochs: nothing folds, yet the log moves on
    state = SharedState(EngineConfig(), sources=["declarations:0", "declarations:1"])
    store = SnapshotStore(str(tmp_path / "snapshots"))
    follower = FactsFollower("unused:9092", "facts", state, store, snapshot_every=5, snapshot_min_s=0.0)
    batches = [[Fact("marker", "declarations:0", 100 + 3 * b + i) for i in range(3)] for b in range(3)]
    with pytest.raises(_Done):
        asyncio.run(follower._loop(_Consumer(batches)))  # noqa: SLF001
    assert state.ready_epoch < 0
    assert store.offsets() == [6]
