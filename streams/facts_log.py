"""The facts log: every worker folds the one-partition facts topic into its :class:`SharedState`.

On start the newest readable snapshot is restored and only the log's tail is read.
``caught_up`` is set once the follower has read to the high watermark that a fetch
response reported (Tansu's ListOffsets is not trusted). While the broker cannot be
reached the follower keeps retrying with backoff; ``reachable`` says whether its last
fetch succeeded recently. Snapshots are written every ``snapshot_every`` facts (and at
most every ``snapshot_min_s`` seconds), serialised on the loop and written in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from zeikan.streams.engine.facts import Fact, decode_facts
from zeikan.streams.engine.shared_state import SharedState, pack_snapshot
from zeikan.streams.kafka.fetch_wait import FetchWait
from zeikan.streams.snapshots import SnapshotStore

log = logging.getLogger(__name__)

BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
"""Waits between attempts while the broker is unreachable."""
SHORT_READ = 4
"""Fewer facts records than this in a poll that leaves at least as many unread is a short read: a
full fetch holds 8 MB, at least 32 records of at most 256 KB (see :mod:`~zeikan.streams.kafka.fetch_wait`)."""


class FactsFollower:
    """Reads the facts topic from the snapshot's offset and keeps the shared state current."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        state: SharedState,
        snapshots: SnapshotStore | None,
        fetch_wait_ms: int = 5,
        snapshot_every: int = 50_000,
        snapshot_min_s: float = 10.0,
        on_fold: Callable[[list[Fact]], None] = lambda facts: None,
        own: Callable[[bytes | None], list[Fact] | None] = lambda token: None,
    ) -> None:
        self._bootstrap = bootstrap
        self._tp = TopicPartition(topic, 0)
        self.state = state
        self._snapshots = snapshots
        self.fetch_wait = FetchWait(fetch_wait_ms, short=SHORT_READ)
        self._snapshot_every = snapshot_every
        self._snapshot_min_s = snapshot_min_s
        self._on_fold = on_fold
        self._own = own
        self.position = 0
        """Next facts-log offset to read (everything before it is folded)."""
        self.caught_up = asyncio.Event()
        self.advanced = asyncio.Event()
        """Set (then cleared by the waiter) whenever ``ready_epoch`` moves or a late fact is folded."""
        self.last_fetch_ok = 0.0
        """Wall time (s) of the last fetch response from the broker."""
        self.frontier_seen_at = 0.0
        """Wall time (ms) at which the current :meth:`SharedState.frontier` was first seen."""
        self.bad_facts = 0
        self.facts_read = 0
        """Facts read from the log by this process (a record carries many)."""
        self._frontier = -1
        self._since_snapshot = 0
        self._last_snapshot = time.monotonic()
        self._last_read = time.monotonic()
        self._pending_fold: list[Fact] = []

    def reachable(self, within_s: float) -> bool:
        """Whether a fetch succeeded in the last ``within_s`` seconds."""
        return time.time() - self.last_fetch_ok <= within_s

    def restore(self) -> None:
        """Load the newest usable snapshot (if any) before following."""
        if self._snapshots is not None:
            self.position = self._snapshots.load(self.state.restore)

    async def run(self) -> None:
        """Follow the log until cancelled, riding out broker outages."""
        attempt = 0
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap, group_id=None, enable_auto_commit=False,
                fetch_max_wait_ms=self.fetch_wait.ms, max_partition_fetch_bytes=8 * 1024 * 1024,
            )
            try:
                await consumer.start()
                consumer.assign([self._tp])
                consumer.seek(self._tp, self.position)
                attempt = 0
                await self._loop(consumer)
            except (KafkaError, OSError) as exc:
                wait = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                attempt += 1
                log.warning("facts log: %s; retrying in %.1fs", exc, wait)
                await asyncio.sleep(wait)
            finally:
                await consumer.stop()

    async def _loop(self, consumer: AIOKafkaConsumer) -> None:
        tp = self._tp
        while True:
            batch = await consumer.getmany(tp, timeout_ms=self.fetch_wait.poll_timeout_ms, max_records=5000)
            polled = consumer.last_poll_timestamp(tp)  # set by fetch responses only (getmany also returns on errors)
            if polled is not None:
                self.last_fetch_ok = polled / 1000
            moved = False
            read = 0
            for message in batch.get(tp, ()):
                self.position = message.offset + 1
                try:
                    facts = self._facts_of(message.value, message.headers or ())
                except ValueError as exc:
                    self.bad_facts += 1
                    log.warning("facts log offset %d skipped: %s", message.offset, exc)
                    continue
                read += len(facts)
                self.facts_read += len(facts)
                for fact in facts:
                    if fact.kind != "marker":
                        self._pending_fold.append(fact)
                    if self.state.receive(fact):
                        moved = True
                        self._report_fold()
            self._note_frontier()
            highwater = consumer.highwater(tp)
            lag = highwater - self.position if highwater is not None else 0
            if self.fetch_wait.observe(len(batch.get(tp, ())), lag):
                self.fetch_wait.apply(consumer)
                log.info("facts log: fetches come back short at offset %d of %d; fetch wait now %d ms",
                         self.position, highwater, self.fetch_wait.ms)
            if highwater is not None and self.position >= highwater and not self.caught_up.is_set():
                self.caught_up.set()
                log.info("facts log caught up at offset %d (ready epoch %d)", self.position, self.state.ready_epoch)
            self._since_snapshot += read
            if read:
                self._last_read = time.monotonic()
            if moved:
                self.advanced.set()
            await self._maybe_snapshot(quiet_poll=not read)
            await asyncio.sleep(0)

    def _facts_of(self, value: bytes, headers: Sequence[tuple[str, bytes]]) -> list[Fact]:
        """The facts of one record: this worker's own as it sent them, others decoded."""
        own = self._own(dict(headers).get("b"))
        return own if own is not None else decode_facts(value)

    def _report_fold(self) -> None:
        ready = self.state.ready_epoch
        folded = [f for f in self._pending_fold if f.epoch < ready]
        if folded:
            self._pending_fold = [f for f in self._pending_fold if f.epoch >= ready]
            self._on_fold(folded)

    def _note_frontier(self) -> None:
        frontier = self.state.frontier()
        if frontier != self._frontier:
            self._frontier = frontier
            self.frontier_seen_at = time.time() * 1000

    async def _maybe_snapshot(self, quiet_poll: bool) -> None:
        """Snapshot every ``snapshot_every`` facts, and once the log has been quiet for ``snapshot_min_s``.

        The quiet one means a worker restarted after a lull reads no tail (it read 25,000
        facts, 8.6 s, after a 1M-declaration backlog; ``bench/restart.py``, round 5); a
        steady stream never goes quiet, so it costs nothing then.
        """
        if self._snapshots is None or self._since_snapshot == 0:
            return
        now = time.monotonic()
        quiet = quiet_poll and now - self._last_read >= self._snapshot_min_s
        if not quiet and (self._since_snapshot < self._snapshot_every or now - self._last_snapshot < self._snapshot_min_s):
            return
        self._since_snapshot = 0
        self._last_snapshot = time.monotonic()
        started = time.perf_counter()
        offset, body, snapshots = self.position, self.state.snapshot_body(), self._snapshots
        on_loop = time.perf_counter() - started

        def write() -> int:
            data = pack_snapshot(body)
            snapshots.save(offset, data)
            return len(data)

        try:
            size = await asyncio.to_thread(write)
        except OSError as exc:
            log.warning("snapshot at offset %d not written: %s", offset, exc)
            return
        log.info("snapshot at facts offset %d: %.1f MB in %.2f s (%.2f s of it on the loop)",
                 offset, size / 2**20, time.perf_counter() - started, on_loop)
