"""PRE_ARRIVAL: admit each declaration once, decide it on the shared state of its epoch, publish, then fold.

Each worker decides only the declarations of the partitions it owns. A declaration
of epoch ``e`` waits (in its partition's queue, un-acked) until the shared state has
folded every epoch before ``e``; the queue keeps the partition's order, so a
waiting partition never blocks another. Per decided batch, in this order:

1. decisions, join openings and dead letters are sent and acknowledged;
2. then the declarations' facts and the partition's marker go to the facts log (in one record);
3. then the events are acked (their offsets may be committed).

A declaration already folded with the same content is a duplicate: nothing is
re-emitted. One with the same id and other content is a ``CONFLICT`` dead letter.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faust.types import TP, EventT

from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DECISIONS, DECLARATIONS
from zeikan.schemas.errors import ErrorKind
from zeikan.streams.agents.common import Outbox, now_ms
from zeikan.streams.agents.fetch_gate import FetchGate
from zeikan.streams.engine.core import explained_record
from zeikan.streams.engine.facts import Fact, content_digest, epoch_of, source_name
from zeikan.streams.engine.join import Opened, ScanRequested, encode_message, scan_request
from zeikan.streams.engine.post_scan import needs_join, opening

if TYPE_CHECKING:
    from zeikan.streams.app import Pipeline


@dataclass(frozen=True)
class Admitted:
    """A valid declaration waiting in its partition's queue."""

    event: EventT
    record: dict[str, Any]
    digest: str
    epoch: int


class Decider:
    """Per-partition queues of admitted declarations, decided as their epochs become decidable."""

    def __init__(self, p: Pipeline) -> None:
        self.p = p
        self.queues: dict[TP, deque[Admitted]] = {}
        self.max_epoch: dict[TP, int] = {}
        self._lock = asyncio.Lock()
        self._codec = codec_for(DECISIONS.name)
        self.last_progress = time.monotonic()
        self._recent: dict[str, tuple[str, int]] = {}
        """Declarations decided here but maybe not folded yet: id -> (digest, epoch)."""
        self._recent_by_epoch: dict[int, list[str]] = {}
        """The same ids by epoch, so that the folded ones are dropped without a walk over all of them."""
        self.gate = FetchGate(p.settings.waiting_limit)

    def waiting(self) -> int:
        """Declarations waiting for their epoch."""
        return sum(len(q) for q in self.queues.values())

    def describe(self) -> dict[str, dict[str, Any]]:
        """Per owned declarations partition: declarations waiting and the epoch of the first."""
        return {
            source_name(tp.topic, tp.partition): {"waiting": len(q), "head_epoch": q[0].epoch if q else None}
            for tp, q in sorted(self.queues.items())
        }

    def stalled(self, within_s: float) -> bool:
        """Whether declarations wait and none was decided for ``within_s`` seconds."""
        return self.waiting() > 0 and time.monotonic() - self.last_progress > within_s

    def idle(self, tp: TP) -> bool:
        """Whether nothing of ``tp`` is waiting or being decided."""
        return not self.queues.get(tp) and not self._lock.locked()

    def revoke(self, tps: set[TP]) -> None:
        """Forget the queues of partitions this worker no longer owns (their new owner re-reads them)."""
        for tp in tps:
            self.queues.pop(tp, None)
            self.max_epoch.pop(tp, None)
        self.gate.reset()

    async def on_batch(self, events: list[EventT]) -> None:
        """Admit a batch from the stream and decide what can be decided."""
        runner = self.p.runner
        runner.hold(events)
        outbox = runner.outbox()
        refused: list[EventT] = []
        epoch_ms = self.p.config.epoch_ms
        for event in events:
            record = await runner.guard(outbox, event, "admit", _admitter(runner, event))
            if record is None:
                refused.append(event)
                continue
            epoch = epoch_of(int(record["filed_at"]), epoch_ms)
            tp = event.message.tp
            self.queues.setdefault(tp, deque()).append(Admitted(event, record, content_digest(DECLARATIONS.name, record), epoch))
            self.max_epoch[tp] = max(self.max_epoch.get(tp, epoch), epoch)
        self.p.hooks.on_decoded(DECLARATIONS.name, len(events) - len(refused))
        await self.process(outbox, refused)

    async def process(self, outbox: Outbox | None = None, refused: list[EventT] | None = None) -> None:
        """Decide every queued declaration whose epoch is decidable now, then publish facts and markers."""
        p = self.p
        outbox = outbox or p.runner.outbox()
        refused = refused or []
        async with self._lock:
            started = time.perf_counter()
            ready = self._pop_ready() if p.follower.caught_up.is_set() else []
            fresh = await self._screen(outbox, ready)
            verdicts = p.engine.decide([a.record for a in fresh], [a.digest for a in fresh]) if fresh else []
            decided = []
            for admitted, verdict in zip(fresh, verdicts):
                record = await p.runner.guard(outbox, admitted.event, "decide", _emit(self, outbox, verdict))
                if record is not None:
                    decided.append((admitted, verdict, record))
            done_events = [a.event for a in ready] + refused
            if not await outbox.flush(p.runner.owned({e.message.tp for e in done_events})):
                return
            facts = p.runner.outbox()
            for admitted, verdict, _ in decided:
                facts.add_fact(Fact(
                    "declaration", _source(admitted.event), admitted.epoch, admitted.record, verdict.outcome(),
                    raw=bytes(admitted.event.message.value),
                ))
                self._recent[verdict.declaration_id] = (admitted.digest, admitted.epoch)
                self._recent_by_epoch.setdefault(admitted.epoch, []).append(verdict.declaration_id)
            p.markers.close_partitions(facts, self)
            idle_closed = p.markers.close_idle_into(facts, lambda tp: not self.queues.get(tp)) if decided else []
            if not await p.runner.finish(facts, done_events):
                p.markers.forget(idle_closed)
                return
            self._forget_folded()
            if ready or not self.waiting():
                self.last_progress = time.monotonic()
            if decided:
                p.hooks.on_decisions([r for _, _, r in decided])
                p.hooks.on_features([v.features for _, v, _ in decided])
            p.hooks.on_waiting(self.waiting())
            if ready or refused:
                p.hooks.on_batch_latency("decide", time.perf_counter() - started)
            await self.gate.apply(p.app.consumer, *self.gate.changes(self.queues))

    def head_epoch(self, tp: TP) -> int | None:
        """Epoch of the first declaration waiting on ``tp`` (None when none waits)."""
        queue = self.queues.get(tp)
        return queue[0].epoch if queue else None

    def _pop_ready(self) -> list[Admitted]:
        state = self.p.state
        # continuous learning: a declaration also waits for the promotion record that serves its filing time
        covers = self.p.learner.covers if self.p.learner is not None else _always
        ready: list[Admitted] = []
        for queue in self.queues.values():
            while queue and state.decidable(queue[0].epoch) and covers(queue[0].record):
                ready.append(queue.popleft())
        return ready

    async def _screen(self, outbox: Outbox, ready: list[Admitted]) -> list[Admitted]:
        """The declarations to decide: duplicates (already decided) emit nothing, conflicts are dead-lettered."""
        fresh: list[Admitted] = []
        batch: dict[str, str] = {}
        for admitted in ready:
            decl_id = str(admitted.record["declaration_id"])
            known = batch.get(decl_id) or self.p.state.known(decl_id) or self._recent.get(decl_id, (None, 0))[0]
            if known is None:
                batch[decl_id] = admitted.digest
                fresh.append(admitted)
            elif known != admitted.digest:
                await outbox.dead_letter(
                    admitted.event, ErrorKind.CONFLICT,
                    f"declaration {decl_id} was already filed with other content (digest {known}, this one "
                    f"{admitted.digest}): amend it under a new declaration_id",
                )
        return fresh

    def _forget_folded(self) -> None:
        ready = self.p.state.ready_epoch
        for epoch in [e for e in self._recent_by_epoch if e < ready - 1]:
            for decl_id in self._recent_by_epoch.pop(epoch):
                self._recent.pop(decl_id, None)


def _always(record: dict[str, Any]) -> bool:
    return True


def _source(event: EventT) -> str:
    return source_name(str(event.message.topic), int(event.message.partition))


def _admitter(runner: Any, event: EventT) -> Any:
    async def admit() -> dict[str, Any]:
        return runner.admit(DECLARATIONS.name, event)

    return admit


def _emit(decider: Decider, outbox: Outbox, verdict: Any) -> Any:
    async def emit() -> dict[str, Any]:
        p = decider.p
        record = explained_record(verdict, p.engine.scorer, now_ms())
        await outbox.send(p.topics.decisions, verdict.declaration_id.encode(), decider._codec.encode(record))
        if needs_join(verdict):
            opened = opening(verdict, p.config)
            await outbox.send(p.topics.declaration_joins, verdict.declaration_id.encode(), encode_message(Opened(opened)))
            request = scan_request(verdict.declaration)
            for container_id in request["containers"]:
                await outbox.send(p.topics.container_events, container_id.encode(), encode_message(ScanRequested(request)))
        return record

    return emit


def register(p: Pipeline) -> None:
    """Add the ``decide`` agent and the task that decides waiting declarations when the state advances."""
    settings, decider = p.settings, p.decider

    @p.app.agent(p.topics.declarations, name="zeikan.decide")
    async def decide(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
            await decider.on_batch(list(events))

    @p.app.task
    async def decide_waiting() -> None:
        await p.follower.caught_up.wait()
        while True:
            await decider.process()
            await p.follower.advanced.wait()
            p.follower.advanced.clear()
