"""Continuous learning in the workers: train at each event-time boundary, publish the decision, gate on it.

* **Input** — every worker folds the facts log (all declarations and inspection results
  of every partition, in one order) and hands each folded epoch to its
  :class:`~zeikan.streams.engine.learner.Learner`: the same events ``zeikan replay``
  feeds its own. Once every epoch before a scheduled boundary ``B`` is folded (the
  shared state's watermark), the learner takes ``B``'s window.
* **One trainer** — the worker that owns ``declarations`` partition 0 trains (in a
  thread: the loop keeps serving), registers the candidate with its decision
  (:func:`zeikan.models.continuous.record`: metadata, ``LIVE`` when promoted, the log)
  and publishes the ``model-promotions`` record. The others keep their windows until
  the record arrives, so a failover retrains the same candidate (same bytes, same
  version: a duplicate record is identical and ignored).
* **Everyone follows** ``model-promotions`` from the beginning into the promotion
  book; a declaration whose filing time needs a record not known yet waits in its
  partition's queue (:meth:`LiveLearner.covers`, the gate in the decider).
* **Restart** — the buffer is rebuilt from the facts log once at start
  (:meth:`LiveLearner.rebuild`), so a worker restored from a snapshot trains on the
  same events as one that folded the whole log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from zeikan.models.continuous import record as register_candidate
from zeikan.models.registry import ModelRegistry
from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DECLARATIONS, MODEL_PROMOTIONS
from zeikan.streams.engine.facts import Fact, decode_facts
from zeikan.streams.engine.learner import Learner, Window, check_epoch
from zeikan.streams.serving.promoted import PromotedScorer

if TYPE_CHECKING:
    from zeikan.streams.app import Pipeline

log = logging.getLogger(__name__)

FOLLOW_BACKOFF_S = 1.0
"""Wait before reconnecting the promotions follower after a broker error."""
TRAINER_CHECK_S = 0.5
"""How often a worker that is not the trainer re-checks whether the record came or it became the trainer."""


def outcome(record: Mapping[str, Any]) -> str:
    """The metric label of a decision: promoted, kept (a candidate that did not win) or no_candidate."""
    if record["candidate"] is None:
        return "no_candidate"
    return "promoted" if record["promoted"] else "kept"


class LiveLearner:
    """One worker's learner: windows from the folded facts, the trainer's loop, the promotions follower."""

    def __init__(self, p: Pipeline, learner: Learner, scorer: PromotedScorer) -> None:
        check_epoch(p.config.epoch_ms)
        self.p = p
        self.learner = learner
        self.scorer = scorer
        self.registry = ModelRegistry(p.settings.registry)
        self.windows: deque[Window] = deque()
        self.rebuilt = False
        """Whether the facts folded before this worker started are buffered (:meth:`rebuild`)."""
        self._wake = asyncio.Event()
        self._codec = codec_for(MODEL_PROMOTIONS.name)

    def covers(self, declaration: Mapping[str, Any]) -> bool:
        """Whether the promotion record that serves ``declaration`` is known (else it waits).

        Nothing is covered before :meth:`rebuild`: until then the schedule's origin is not known.
        """
        return self.rebuilt and self.learner.book.covers(int(declaration["filed_at"]))

    def describe(self) -> dict[str, Any]:
        """For ``/zeikan/state``: records known, the boundaries still to decide here, the serving version, the buffer."""
        book = self.learner.book
        decls, insps = self.learner.buffer.counts()
        return {"trainer": self.trainer(), "origin": book.origin, "records": len(book.records),
                "promoted": sum(1 for r in book.records.values() if r["promoted"]),
                "open_boundaries": [w.boundary for w in self.windows], "serving": self.scorer.version,
                "buffered_declarations": decls, "buffered_inspections": insps,
                "buffer_bytes": self.learner.buffer.nbytes()}

    def on_fold(self, facts: list[Fact]) -> None:
        """Buffer folded declarations and inspection results; take the windows of the boundaries now passed."""
        for fact in facts:
            if fact.kind != "marker" and fact.record is not None:
                self.learner.fold(fact.kind, fact.record)
        if self.rebuilt:
            self._take_windows()

    def _take_windows(self) -> None:
        windows = self.learner.due(self.p.state.ready_epoch * self.p.config.epoch_ms)
        if windows:
            self.windows.extend(windows)
            self._wake.set()

    async def rebuild(self) -> None:
        """Buffer every fact of the log up to where the follower first caught up.

        A worker restored from a snapshot folds only the log's tail: without this its
        buffer (and the schedule's origin) would miss the events before the snapshot and
        it would train another candidate than a replay. Facts read twice (here and
        folded) are buffered once; events older than the horizon are pruned at the next
        boundary.
        """
        follower = self.p.follower
        await follower.caught_up.wait()
        until, started = follower.position, time.perf_counter()
        tp = TopicPartition(self.p.topics.facts, 0)
        self.rebuilt = until == 0
        while not self.rebuilt:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.p.kafka.bootstrap, group_id=None,
                                        enable_auto_commit=False, max_partition_fetch_bytes=8 * 1024 * 1024)
            try:
                await consumer.start()
                consumer.assign([tp])
                consumer.seek(tp, 0)
                position = 0
                while position < until:
                    for message in (await consumer.getmany(tp, timeout_ms=500, max_records=5000)).get(tp, ()):
                        position = message.offset + 1
                        if position > until:
                            break
                        try:
                            facts = decode_facts(message.value)
                        except ValueError:
                            continue  # the follower counts and logs unreadable facts
                        for fact in facts:
                            if fact.kind != "marker" and fact.record is not None:
                                self.learner.fold(fact.kind, fact.record)
                self.rebuilt = True
            except (KafkaError, OSError) as exc:
                log.warning("continuous learning: rebuilding the buffer: %s; retrying in %.1fs", exc, FOLLOW_BACKOFF_S)
                await asyncio.sleep(FOLLOW_BACKOFF_S)
            finally:
                await _stop(consumer)
        decls, insps = self.learner.buffer.counts()
        log.info("continuous learning: buffer rebuilt from facts offsets 0..%d in %.2fs (%d declarations, %d inspection "
                 "results)", until, time.perf_counter() - started, decls, insps)
        self._take_windows()
        await self.p.decider.process()

    def trainer(self) -> bool:
        """Whether this worker trains: it owns declarations partition 0."""
        try:
            return any(tp.topic == DECLARATIONS.name and tp.partition == 0 for tp in self.p.app.consumer.assignment())
        except Exception:  # noqa: BLE001 - no consumer yet
            return False

    async def run(self) -> None:
        """Decide each taken window in boundary order (trainer), or wait for its record (the others)."""
        book = self.learner.book
        while True:
            if not self.windows:
                self._wake.clear()
                await self._wake.wait()
                continue
            window = self.windows[0]
            if window.boundary in book.records:
                self.windows.popleft()
                continue
            if not self.trainer():
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), TRAINER_CHECK_S)
                except asyncio.TimeoutError:
                    pass
                continue
            record = await self._train(window)
            outbox = self.p.runner.outbox()
            await outbox.send(MODEL_PROMOTIONS.name, str(record["boundary"]).encode(), self._codec.encode(record))
            await outbox.flush()
            self.p.hooks.on_promotion_decision(outcome(record))
            self._take(record)

    async def _train(self, window: Window) -> dict[str, Any]:
        champion_version = self.learner.book.champion(window.boundary)
        started = time.perf_counter()

        def train() -> dict[str, Any]:
            champion = self.scorer.models.champion(champion_version)
            record, step = self.learner.decide(window, champion)
            if step is not None:
                register_candidate(self.registry, step)
            return record

        record = await asyncio.to_thread(train)
        decls, insps = self.learner.buffer.counts()
        log.info("continuous learning: boundary %d trained in %.2fs on %d declarations, %d inspection results "
                 "(buffer now %d + %d events, %.1f MB of Avro): %s", window.boundary, time.perf_counter() - started,
                 record["train_declarations"], record["train_inspections"], decls, insps,
                 self.learner.buffer.nbytes() / 2**20, record["reason"])
        return record

    def _take(self, record: Mapping[str, Any]) -> None:
        if self.learner.book.add(record):
            self._wake.set()
            asyncio.get_running_loop().create_task(self.p.decider.process())

    async def follow(self) -> None:
        """Read ``model-promotions`` from the beginning into the book, riding out broker outages."""
        position: dict[TopicPartition, int] = {}
        while True:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.p.kafka.bootstrap, group_id=None,
                                        enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=100)
            try:
                await consumer.start()
                tps = [TopicPartition(MODEL_PROMOTIONS.name, n)
                       for n in sorted(consumer.partitions_for_topic(MODEL_PROMOTIONS.name) or ())]
                if not tps:
                    raise KafkaError(f"topic {MODEL_PROMOTIONS.name} not found (create it with `zeikan kafka topics`)")
                consumer.assign(tps)
                for tp in tps:
                    consumer.seek(tp, position.get(tp, 0))
                while True:
                    for tp, messages in (await consumer.getmany(timeout_ms=500, max_records=1000)).items():
                        for message in messages:
                            position[tp] = message.offset + 1
                            self._take(self._codec.decode(message.value))
            except (KafkaError, OSError) as exc:
                log.warning("model-promotions: %s; retrying in %.1fs", exc, FOLLOW_BACKOFF_S)
                await asyncio.sleep(FOLLOW_BACKOFF_S)
            finally:
                await _stop(consumer)


async def _stop(consumer: AIOKafkaConsumer) -> None:
    """Stop a consumer; aiokafka's stop raises CancelledError when its offset-reset task had not run yet."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


def register(p: Pipeline) -> None:
    """Add the learner's tasks (only when continuous learning is on)."""
    live = p.learner
    if live is None:
        return

    @p.app.task
    async def follow_promotions() -> None:
        await live.follow()

    @p.app.task
    async def learn() -> None:
        await live.rebuild()
        await live.run()
