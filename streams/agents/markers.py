"""Markers: a source partition tells every worker that it has published all facts of epochs <= e.

* A partition with traffic closes epoch ``e - 1`` as soon as it reads a record of
  epoch ``e`` (and has published the facts of everything before it). Its marker also
  says the newest epoch it has received (``reached``): a backlog waiting in its queue
  moves the frontier at once, so idle partitions need not follow one epoch at a time.
* An idle partition closes the epochs up to the frontier (the epoch the second most
  advanced source has reached, so one outlier cannot drag the others along) once a
  fetch response newer than the frontier showed it has nothing left to read: anything
  published to it before the frontier's record would have been in that response.
  Publishers are assumed to publish in (rough) event-time order; an event that breaks
  that comes after its epoch closed and is folded as a late fact (counted).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from faust.types import TP

from zeikan.schemas.contract import DECLARATIONS, INSPECTION_RESULTS
from zeikan.streams.agents.common import BatchRunner, Outbox
from zeikan.streams.engine.facts import Fact, source_name

if TYPE_CHECKING:
    from zeikan.streams.agents.decide import Decider
    from zeikan.streams.app import Pipeline

log = logging.getLogger(__name__)

SOURCE_TOPICS = (DECLARATIONS.name, INSPECTION_RESULTS.name)
"""Topics whose partitions are sources of the facts log."""


class Markers:
    """Sends this worker's markers for the source partitions it owns."""

    def __init__(self, p: Pipeline) -> None:
        self.p = p
        self.sent: dict[str, int] = {}

    def due(self, source: str, epoch: int) -> bool:
        """Whether closing ``epoch`` for ``source`` says something new."""
        return epoch > max(self.sent.get(source, -1), self.p.state.marked.get(source, -1))

    def send(self, outbox: Outbox, source: str, epoch: int, reached: int = -1) -> None:
        """Queue the marker ``(source, epoch)`` on the facts log (``reached``: the newest epoch the source received)."""
        outbox.add_fact(Fact("marker", source, epoch, reached=reached))
        self.sent[source] = epoch

    def close_partitions(self, outbox: Outbox, decider: Decider) -> None:
        """Close, for every declarations partition with traffic, the epochs before its oldest waiting record."""
        for tp, newest in list(decider.max_epoch.items()):
            head = decider.head_epoch(tp)
            epoch = (head if head is not None else newest) - 1
            source = source_name(tp.topic, tp.partition)
            if self.due(source, epoch):
                self.send(outbox, source, epoch, newest)

    async def close_idle(self) -> None:
        """Close the epochs up to the frontier for owned source partitions that have nothing left to read."""
        outbox = self.p.runner.outbox()
        closed = self.close_idle_into(outbox, self.p.decider.idle)
        if closed and not await outbox.flush(self.p.runner.owned(closed)):
            self.forget(closed)

    def close_idle_into(self, outbox: Outbox, idle: Callable[[TP], bool]) -> list[TP]:
        """Queue on ``outbox`` the closing markers of the idle owned source partitions (see :meth:`close_idle`); those closed.

        The decider calls it for each batch it decides, so these markers travel in that
        batch's facts record; the timer covers the stretches when nothing is decided.
        """
        closed: list[TP] = []
        for tp, epoch, reason in self._open_partitions(idle):
            if reason is None:
                self.send(outbox, source_name(tp.topic, tp.partition), epoch)
                closed.append(tp)
        return closed

    def still_open(self) -> dict[str, str]:
        """Why each owned source partition has not closed the epochs up to the frontier (for the state page)."""
        return {source_name(tp.topic, tp.partition): reason
                for tp, _, reason in sorted(self._open_partitions(self.p.decider.idle)) if reason is not None}

    def _open_partitions(self, idle: Callable[[TP], bool]) -> list[tuple[TP, int, str | None]]:
        """Each owned source partition that has not closed ``frontier - 1`` yet, that epoch, and why it may not
        (None: it may now)."""
        p = self.p
        frontier = p.state.frontier()
        consumer = _kafka_consumer(p.app)
        if frontier < 0 or not p.follower.caught_up.is_set() or consumer is None:
            return []
        epoch = frontier - 1
        found: list[tuple[TP, int, str | None]] = []
        for tp in p.app.consumer.assignment():
            if tp.topic not in SOURCE_TOPICS or not self.due(source_name(tp.topic, tp.partition), epoch):
                continue
            reason = "records waiting or being decided" if not idle(tp) else _unfetched(
                consumer, tp, p.follower.frontier_seen_at, p.runner)
            found.append((tp, epoch, reason))
        return found

    def forget(self, tps: Iterable[TP]) -> None:
        """Markers of ``tps`` that were not delivered, or partitions revoked: their markers are due again."""
        for tp in tps:
            self.sent.pop(source_name(tp.topic, tp.partition), None)


def _kafka_consumer(app: Any) -> Any:
    """The aiokafka consumer under Faust's consumer thread (None before it started)."""
    thread = getattr(app.consumer, "_thread", None)
    return getattr(thread, "_consumer", None)


def _unfetched(consumer: Any, tp: TP, newer_than_ms: float, runner: BatchRunner) -> str | None:
    """Why no fetch response newer than ``newer_than_ms`` has shown that ``tp`` holds nothing that is not done (None:
    one has)."""
    try:
        highwater = consumer.highwater(tp)
        polled = consumer.last_poll_timestamp(tp)
    except (AttributeError, AssertionError, KeyError, TypeError):
        return "not fetched by this consumer"
    if highwater is None or polled is None:
        return "no fetch response yet"
    if polled <= newer_than_ms:
        return "no fetch response since the frontier moved"
    if not runner.drained(tp, highwater):
        return f"records below the high watermark {highwater} not done ({runner.progress(tp)})"
    return None


def register(p: Pipeline) -> None:
    """Add the timer that closes idle partitions' epochs."""

    @p.app.timer(p.settings.marker_interval_s, name="zeikan.markers")
    async def close_idle_epochs() -> None:
        try:
            await p.markers.close_idle()
        except Exception:  # noqa: BLE001 - a timer must never stop the worker
            log.exception("closing idle epochs failed; next tick retries")
