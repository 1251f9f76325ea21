"""What every agent does the same way (one batch runner for all of them).

* **Admission**: each raw record goes through :func:`zeikan.schemas.admission.admit`
  (limits before decoding, schema, meaning, event-time plausibility); a refusal is a
  dead letter that always fits the producer's limit (:mod:`zeikan.schemas.dead_letters`).
* **Per-record guard**: :meth:`BatchRunner.guard` turns any exception of one record's
  step into a ``PROCESSING`` dead letter naming the step; the batch goes on.
* **Commits only after the outcome**: a batch's events are held (their Faust message
  reference count raised) until everything they produced is acknowledged by the
  broker; only then are they acked, so a crash mid-batch re-delivers, never skips.
* **Broker outages**: sends are retried with backoff until the broker answers again
  (while the worker still owns the partition); the process never exits over it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import faust
from faust.types import TP, EventT, TopicT

from zeikan.schemas.admission import admit
from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DEAD_LETTERS
from zeikan.schemas.dead_letters import Source, dead_letter_record
from zeikan.schemas.errors import ErrorKind, ValidationError
from zeikan.schemas.limits import DEFAULT_LIMITS, Limits
from zeikan.streams.engine.facts import Fact, encode_facts
from zeikan.streams.observability.hooks import PipelineHooks

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
"""Waits between send attempts while the broker does not answer."""

Headers = list[tuple[str, bytes]]


def now_ms() -> int:
    """Wall-clock epoch millis."""
    return int(time.time() * 1000)


def event_key(event: EventT) -> str:
    """An event's key as text."""
    key = event.key
    return key.decode() if isinstance(key, (bytes, bytearray)) else str(key)


def dead_letter(event: EventT, kind: str, message: str, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The DeadLetter record of ``event``: source position and key, reason, size and sha256 of the raw
    bytes and as much of them as fits ``limits.dead_letter_max_bytes`` (see :mod:`zeikan.schemas.dead_letters`)."""
    msg = event.message
    raw = msg.value if isinstance(msg.value, (bytes, bytearray)) else bytes(str(msg.value), "utf-8")
    key = msg.key if isinstance(msg.key, (bytes, type(None))) else bytes(str(msg.key), "utf-8")
    source = Source(str(msg.topic), int(msg.partition), int(msg.offset), key)
    return dead_letter_record(raw, source, kind, message, failed_at=now_ms(), limits=limits)


@dataclass
class _Record:
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers | None
    future: Any = None


@dataclass
class Outbox:
    """Records to send for one batch; :meth:`flush` returns once the broker acknowledged all of them.

    It bypasses ``Topic.send`` (Faust's per-message machinery costs ~0.4 ms a record);
    values that are not bytes are JSON-encoded here.
    """

    runner: BatchRunner
    _records: list[_Record] = field(default_factory=list)
    _facts: list[Fact] = field(default_factory=list)

    def add_fact(self, fact: Fact) -> None:
        """Queue a fact for the facts log; :meth:`flush` sends the queued facts, in order, as few records."""
        self._facts.append(fact)

    async def send(self, topic: TopicT | str, key: bytes | None, value: Any, headers: Headers | None = None) -> None:
        """Queue one record; it is sent at once, its delivery awaited by :meth:`flush`."""
        if not isinstance(value, (bytes, bytearray)):
            value = json.dumps(value, separators=(",", ":")).encode()
        name = topic if isinstance(topic, str) else topic.get_topic_name()
        record = _Record(name, key, bytes(value), headers)
        self._records.append(record)
        try:
            record.future = await self.runner.producer.send(name, key, record.value, None, None, headers)
        except Exception:  # noqa: BLE001 - the broker is away: flush retries it
            record.future = None

    async def dead_letter(self, event: EventT, kind: str, message: str) -> None:
        """Queue the dead letter of ``event``."""
        record = dead_letter(event, kind, message, self.runner.limits)
        self.runner.hooks.on_dead_letter(record["source_topic"], kind)
        await self.send(DEAD_LETTERS.name, record["source_topic"].encode(), self.runner.dead_letter_codec.encode(record))

    async def flush(self, still_owned: Callable[[], bool] = lambda: True) -> bool:
        """Send the queued facts, then wait for every queued record, re-sending through outages; False if ownership was lost meanwhile."""
        if self._facts:
            facts, self._facts = self._facts, []
            for value, carried in encode_facts(facts):
                await self.send(self.runner.facts_topic, None, value, [("b", self.runner.own_facts.keep(carried))])
        attempt = 0
        while self._records:
            try:
                for record in self._records:
                    if record.future is None:
                        record.future = await self.runner.producer.send(
                            record.topic, record.key, record.value, None, None, record.headers
                        )
                await asyncio.gather(*(r.future for r in self._records))
                self._records.clear()
            except Exception as exc:  # noqa: BLE001 - any send failure: retry, never drop
                for record in self._records:
                    record.future = None
                if not still_owned():
                    self._records.clear()
                    return False
                wait = RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)]
                attempt += 1
                self.runner.hooks.on_send_retry(type(exc).__name__)
                log.warning("send failed (%s: %s); retrying in %.1fs", type(exc).__name__, exc, wait)
                await asyncio.sleep(wait)
        return True


class OwnFacts:
    """The facts records a worker sent, by token, so its follower folds them without decoding them again.

    Bounded: when the follower never reads a record back (ownership lost before it was
    sent), the oldest entries go; a record not found here is simply decoded.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._facts: dict[bytes, list[Fact]] = {}
        self._prefix = f"{os.getpid()}-{uuid.uuid4().hex[:12]}-".encode()
        self._count = itertools.count()

    def keep(self, facts: list[Fact]) -> bytes:
        """Remember the facts of one record; the token its ``b`` header carries."""
        token = self._prefix + str(next(self._count)).encode()
        self._facts[token] = facts
        while len(self._facts) > self._limit:
            del self._facts[next(iter(self._facts))]
        return token

    def claim(self, token: bytes | None) -> list[Fact] | None:
        """The facts sent under ``token`` by this worker (None when another worker sent them)."""
        return self._facts.pop(token, None) if token is not None else None


class BatchRunner:
    """The one batch runner every agent uses: hold, guard, send, ack (see the module docstring)."""

    def __init__(
        self, app: faust.App, hooks: PipelineHooks, facts_topic: str, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        self.app = app
        self.hooks = hooks
        self.facts_topic = facts_topic
        self.own_facts = OwnFacts()
        """Facts this worker sent, until its follower reads them back."""
        self.limits = limits
        self.dead_letter_codec = codec_for(DEAD_LETTERS.name)
        self.processed: dict[TP, int] = {}
        """Per partition: the offset after the last event whose outcome is delivered."""
        self.received: dict[TP, int] = {}
        """Per partition: the offset after the last event an agent received (held, maybe not done)."""

    @property
    def producer(self) -> Any:
        """The app's producer."""
        return self.app.producer

    def outbox(self) -> Outbox:
        """A fresh outbox for one batch."""
        return Outbox(self)

    def owned(self, tps: Iterable[TP]) -> Callable[[], bool]:
        """A check that this worker still owns every partition of ``tps``."""
        wanted = set(tps)

        def check() -> bool:
            return wanted <= set(self.app.consumer.assignment())

        return check

    def hold(self, events: Sequence[EventT]) -> None:
        """Keep ``events`` un-acked past the end of their ``take_events`` batch (until :meth:`ack`)."""
        for event in events:
            message = event.message
            message.incref()
            self.received[message.tp] = max(self.received.get(message.tp, 0), message.offset + 1)

    def drained(self, tp: TP, highwater: int) -> bool:
        """Whether every record of ``tp`` below ``highwater`` reached an agent and has its outcome delivered.

        Offsets come from what the agents received, never from the consumer's fetch position
        (records fetched but still on their way to an agent are past it); with nothing received
        since the assignment, the committed offset is where the partition stands -- or what this
        worker finished itself: a batch that was in flight across a rebalance is acked after the
        assignment's seek read the committed offset, and is not delivered again.
        """
        received = self.received.get(tp)
        if received is None:
            committed = self.app.consumer._committed_offset.get(tp)  # noqa: SLF001 - set by Faust's seek on assignment
            return max(committed or 0, self.processed.get(tp, 0)) >= highwater
        return received >= highwater and self.processed.get(tp, 0) >= received

    def progress(self, tp: TP) -> str:
        """Where ``tp`` stands for :meth:`drained`, in words (for the state page)."""
        committed = self.app.consumer._committed_offset.get(tp)  # noqa: SLF001 - see drained
        return f"received {self.received.get(tp)}, processed {self.processed.get(tp)}, committed {committed}"

    def forget(self, tps: Iterable[TP]) -> None:
        """Drop the positions of partitions this worker no longer owns."""
        for tp in tps:
            self.received.pop(tp, None)
            self.processed.pop(tp, None)

    def ack(self, events: Iterable[EventT]) -> None:
        """Release held events: their offsets may be committed now."""
        for event in events:
            message = event.message
            event.ack()
            self.processed[message.tp] = max(self.processed.get(message.tp, 0), message.offset + 1)

    def admit(self, topic: str, event: EventT) -> dict[str, Any]:
        """The valid record of ``event``; raises ValidationError (its kind is the dead-letter kind)."""
        value = event.message.value
        if not isinstance(value, (bytes, bytearray)):
            raise ValidationError(ErrorKind.DECODE, "", f"expected bytes, got {type(value).__name__}", topic)
        return admit(topic, bytes(value), now_ms(), self.limits)

    async def guard(self, outbox: Outbox, event: EventT, step: str, work: Callable[[], Awaitable[T]]) -> T | None:
        """Run one record's step; a failure becomes its dead letter (None is returned)."""
        try:
            return await work()
        except ValidationError as exc:
            await outbox.dead_letter(event, exc.kind, str(exc))
        except Exception as exc:  # noqa: BLE001 - one bad record must not stop the agent
            log.exception("%s failed on %s[%d]@%d", step, event.message.topic, event.message.partition, event.message.offset)
            await outbox.dead_letter(event, ErrorKind.PROCESSING, f"{step}: {type(exc).__name__}: {exc}")
        return None

    async def each(
        self, events: Sequence[EventT], step_name: str, step: Callable[[Outbox, EventT], Awaitable[T]]
    ) -> tuple[Outbox, list[T | None]]:
        """Hold a batch and run ``step`` on each event under :meth:`guard`; the caller then calls :meth:`finish`."""
        self.hold(events)
        outbox = self.outbox()
        results = [await self.guard(outbox, event, step_name, lambda event=event: step(outbox, event)) for event in events]
        return outbox, results

    async def run_batch(
        self, events: Sequence[EventT], topic: str, step_name: str, step: Callable[[Outbox, EventT], Awaitable[bool]]
    ) -> None:
        """One batch of a stateless agent: ``step`` per event (guarded), count the decoded ones, deliver, ack, time it."""
        started = time.perf_counter()
        outbox, done = await self.each(events, step_name, step)
        self.hooks.on_decoded(topic, sum(1 for d in done if d))
        await self.finish(outbox, events)
        self.hooks.on_batch_latency(step_name, time.perf_counter() - started)

    async def finish(self, outbox: Outbox, events: Sequence[EventT]) -> bool:
        """Deliver the batch's outcome, then ack its events; False when its partitions moved away."""
        delivered = await outbox.flush(self.owned({e.message.tp for e in events}))
        if delivered:
            self.ack(events)
        return delivered


def put(stream: Any, table: Any, key: str, value: Any, event: EventT) -> None:
    """Write ``table[key]`` (delete it when ``value`` is None) as if inside ``event``'s iteration (its
    changelog partition).

    Batches come from ``take_events``, outside Faust's per-event context; the
    table needs the source event to pick the changelog partition.
    """
    previous = stream.current_event
    stream._set_current_event(event)  # noqa: SLF001 - faust has no public setter
    try:
        if value is not None:
            table[key] = value
        elif key in table:
            del table[key]
    finally:
        stream._set_current_event(previous)  # noqa: SLF001
