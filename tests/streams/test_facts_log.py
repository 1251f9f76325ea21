"""The facts follower's snapshot cadence, driven by a stand-in consumer (pure, no broker)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.streams.pipeline_factories import HOUR, T0, history
from zeikan.streams.agents.common import OwnFacts
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.facts import Fact, Outcome, encode_facts, epoch_of
from zeikan.streams.engine.shared_state import SharedState
from zeikan.streams.facts_log import FactsFollower
from zeikan.streams.snapshots import SnapshotStore


class _Done(Exception):
    """Ends the follower's loop once the scripted batches are read."""


class _Consumer:
    """Hands out scripted batches of facts-log records, then stops the loop."""

    def __init__(self, batches: list[list[Fact]], own: OwnFacts | None = None) -> None:
        self._batches = batches
        self._offset = 0
        self._own = own

    async def getmany(self, tp, timeout_ms: int, max_records: int):  # type: ignore[no-untyped-def]
        if not self._batches:
            raise _Done
        records = []
        for value, carried in encode_facts(self._batches.pop(0), max_bytes=1):
            headers = [("b", self._own.keep(carried))] if self._own is not None else []
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


def test_a_worker_folds_its_own_facts_as_it_sent_them_and_another_workers_decoded_to_the_same_state() -> None:
    decls = history(days=1, per_day=6, seed=4)["declarations"]
    for i, d in enumerate(decls):
        d["filed_at"] = T0 + i * HOUR + 1
    sources = ["declarations:0"]
    facts = [Fact("declaration", "declarations:0", epoch_of(d["filed_at"]), d, Outcome(0.5, "RELEASE", "RELEASE", None, "x"))
             for d in decls] + [Fact("marker", "declarations:0", epoch_of(decls[-1]["filed_at"]))]
    own, sent = OwnFacts(), SharedState(EngineConfig(), sources)
    follower = FactsFollower("unused:9092", "facts", sent, None, own=own.claim)
    with pytest.raises(_Done):
        asyncio.run(follower._loop(_Consumer([facts], own)))  # noqa: SLF001
    other = SharedState(EngineConfig(), sources)
    with pytest.raises(_Done):
        asyncio.run(FactsFollower("unused:9092", "facts", other, None)._loop(_Consumer([facts])))  # noqa: SLF001
    assert own.claim(b"unknown") is None and not own._facts, "every record sent was claimed back"  # noqa: SLF001
    assert sent.ready_epoch > 0 and sent.digest() == other.digest()


class _QuietAfter(_Consumer):
    """The scripted batches, then empty polls (a quiet log) for ``quiet_s``, then the loop stops."""

    def __init__(self, batches: list[list[Fact]], quiet_s: float) -> None:
        super().__init__(batches)
        self._quiet_s = quiet_s
        self._quiet_since: float | None = None

    async def getmany(self, tp, timeout_ms: int, max_records: int):  # type: ignore[no-untyped-def]
        if self._batches:
            return await super().getmany(tp, timeout_ms, max_records)
        loop = asyncio.get_running_loop()
        self._quiet_since = self._quiet_since or loop.time()
        if loop.time() - self._quiet_since > self._quiet_s:
            raise _Done
        await asyncio.sleep(0.01)
        return {}


def test_a_quiet_log_gets_its_snapshot_even_below_the_snapshot_count(tmp_path: Path) -> None:
    state = SharedState(EngineConfig(), sources=["declarations:0"])
    store = SnapshotStore(str(tmp_path / "snapshots"))
    follower = FactsFollower("unused:9092", "facts", state, store, snapshot_every=1_000_000, snapshot_min_s=0.1)
    batches = [[Fact("marker", "declarations:0", 100 + 3 * b + i) for i in range(3)] for b in range(3)]
    with pytest.raises(_Done):
        asyncio.run(follower._loop(_QuietAfter(batches, quiet_s=0.5)))  # noqa: SLF001
    assert store.offsets() == [9], "one snapshot, at the end of the log, once it was quiet"
