"""The declaration <-> container join in two Faust tables, POST_SCAN decisions and scan deadlines.

* ``join-containers`` agent (container-keyed topic): scans and scan requests meet;
  every match goes to the declaration-keyed topic.
* ``join-declarations`` agent (declaration-keyed topic): openings, matches and
  deadline checks; when every container of a declaration has a scan, the image
  scorer assesses the scans (one batch call per agent batch) and the POST_SCAN
  decision is emitted, exactly once per declaration state (a redelivered message
  finds the state already done and emits nothing new; a decision re-emitted after
  a crash carries the same decision_id).
* A timer checks deadlines against the engine's *event-time* clock (the latest
  event time the history follower has folded in), so overdue detection follows
  the simulated or replayed time, not the wall clock; it sends a check message
  per overdue candidate so the owner updates its table inside the stream.
* Both tables hold a horizon, not the history: the same timer sends a check to each finished
  join once its containers forgot it, and to each container state once it has emptied
  (:class:`DueIndex`); the owner deletes them.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DECISIONS, SCAN_OVERDUE
from zeikan.streams.agents.common import event_key, now_ms, put
from zeikan.streams.engine import join
from zeikan.streams.engine.post_scan import post_scan_decision
from zeikan.streams.serving.scoring import assess_off_loop

log = logging.getLogger(__name__)

RECHECK_S = 30.0
"""Seconds before a deadline check is sent again for a join that is still pending."""

if TYPE_CHECKING:
    from zeikan.streams.app import Pipeline


DueAt = Callable[[dict[str, Any]], "tuple[str, int] | None"]
"""When a table state falls due, and for what: ``(what, event time)``, or None (never)."""


class DueIndex:
    """When each state of an on-disk join table falls due, so the timer never walks the table.

    Rebuilt from the table once per assignment of its partitions (a restart, a rebalance), then
    kept current by the agent's own writes. The declarations' index holds each open join's scan
    deadline (``pending``) and each finished join's forget time (``finished``): a finished join is
    deleted once its forget time (:func:`~zeikan.streams.engine.join.forget_at`) passes, so the
    table holds a horizon of joins, not the history (every join state carries its whole
    declaration). The containers' index holds when each container state empties (``expire``).
    """

    def __init__(self, due_at: DueAt) -> None:
        self._due_at = due_at
        self.at: dict[str, tuple[str, int, int]] = {}
        """key -> (what, partition, event time it falls due)."""
        self.entries = 0
        """States in the assigned partitions (counted at the rescan, plus the ones created since)."""
        self.scanned_for: frozenset[int] | None = None
        self._checked: dict[str, float] = {}
        """key -> when (monotonic s) its last check was sent."""

    def of(self, what: str) -> dict[str, tuple[int, int]]:
        """The keys due for ``what``: key -> (partition, event time)."""
        return {key: (partition, at) for key, (w, partition, at) in self.at.items() if w == what}

    def due(self, clock: int, assigned: frozenset[int], now: float) -> list[str]:
        """The assigned keys past their time at event time ``clock`` that need a check sent at ``now``.

        A check is sent once, and again only if the key is still due :data:`RECHECK_S` later
        (the check was lost, or the agent is behind). Re-sending every join on every tick
        flooded a backlog: 1,300 checks every 2 s, each tick took 2-5 s, and the join topics lagged
        2,000 records a partition (``bench/restart.py``, round 5).
        """
        due = [key for key, (_, partition, at) in self.at.items()
               if partition in assigned and clock > at and now - self._checked.get(key, -RECHECK_S) >= RECHECK_S]
        self._checked.update((key, now) for key in due)
        return due

    def note(self, key: str, state: dict[str, Any] | None, created: bool = False) -> None:
        """Take the state just written for ``key`` (``created``: the table had none; None: deleted)."""
        self.entries += int(created) - int(state is None)
        self.at.pop(key, None)
        self._checked.pop(key, None)
        due = self._due_at(state) if state is not None and "partition" in state else None
        if due is not None:
            self.at[key] = (due[0], int(state["partition"]), due[1])  # type: ignore[index]

    def rescan(self, items: Iterable[tuple[str, Any]], assigned: frozenset[int]) -> None:
        """Rebuild from the table's ``items`` for the ``assigned`` partitions (read one at a time: the
        table is on disk, and a list of it all made the restarted worker's memory follow its size)."""
        self.at, self.entries, self.scanned_for, self._checked = {}, 0, assigned, {}
        for key, state in items:
            if state is None or state.get("partition") not in assigned:
                continue
            self.entries += 1
            self.note(key, state)


def join_due_at(state: dict[str, Any]) -> tuple[str, int] | None:
    """A declaration's join: its scan deadline while open, its forget time once finished."""
    opened = state.get("open")
    if opened is None:
        return None
    forget = join.forget_at(state)
    return ("pending", int(opened["deadline"])) if forget is None else ("finished", forget)


def container_due_at(lookback_ms: int) -> DueAt:
    """A container's state: when it empties."""
    def due_at(state: dict[str, Any]) -> tuple[str, int] | None:
        empty_at = join.container_empty_at(state, lookback_ms)
        return None if empty_at is None else ("expire", empty_at)

    return due_at


def register(p: Pipeline) -> None:
    """Add the two join agents and the deadline timer."""
    settings, hooks, topics, tables, runner = p.settings, p.hooks, p.topics, p.tables, p.runner
    lookback = p.config.scan_lookback_ms
    decisions_codec = codec_for(DECISIONS.name)
    overdue_codec = codec_for(SCAN_OVERDUE.name)
    deadlines, expiries = DueIndex(join_due_at), DueIndex(container_due_at(lookback))

    @p.app.agent(topics.container_events, name="zeikan.join-containers")
    async def containers(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
            touched: dict[str, tuple[dict, Any]] = {}
            created: set[str] = set()

            async def step(outbox: Any, event: Any) -> int:
                container_id = event_key(event)
                state = touched[container_id][0] if container_id in touched else tables.containers.get(container_id)
                if state is None:
                    created.add(container_id)
                state = copy.deepcopy(state or join.new_container_state())
                state["partition"] = event.message.partition
                message = join.decode_message(event.value)
                match message:
                    case join.ScanArrived(scan=scan):
                        matches = join.container_on_scan(state, scan, lookback)
                    case join.ScanRequested(request=request):
                        matches = join.container_on_request(state, container_id, request, lookback)
                    case join.ExpiryCheck():
                        matches = []
                    case _:
                        raise ValueError(f"{type(message).__name__} is no container message")
                touched[container_id] = (state, event)
                for m in matches:
                    await outbox.send(
                        topics.declaration_joins, m.declaration_id.encode(),
                        join.encode_message(join.ScanMatched(m.container_id, m.scan)),
                    )
                return int(isinstance(message, join.ScanArrived) and not matches)

            outbox, unmatched = await runner.each(list(events), "join-containers", step)
            for container_id, (state, event) in touched.items():
                join.expire_container(state, p.state.clock, lookback)
                kept = state if state["scans"] or state["requests"] else None  # an empty state is the default
                put(stream, tables.containers, container_id, kept, event)
                expiries.note(container_id, kept, container_id in created and kept is not None)
            if any(unmatched):
                hooks.on_unmatched("scans", sum(n or 0 for n in unmatched))
            await runner.finish(outbox, events)

    @p.app.agent(topics.declaration_joins, name="zeikan.join-declarations")
    async def declarations(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
            started = time.perf_counter()
            events = list(events)
            touched: dict[str, tuple[dict, Any]] = {}
            created: set[str] = set()
            completed: list[tuple[dict, list, Any]] = []
            overdue: list[tuple[dict, list[str], Any]] = []
            checked: dict[str, int] = {}  # declaration_id -> event-time clock of a deadline check in this batch

            async def step(outbox: Any, event: Any) -> bool:
                decl_id = event_key(event)
                state = touched[decl_id][0] if decl_id in touched else tables.joins.get(decl_id)
                if state is None:
                    created.add(decl_id)
                state = copy.deepcopy(state or join.new_declaration_state())
                state["partition"] = event.message.partition
                message = join.decode_message(event.value)
                match message:
                    case join.Opened(opening=opened):
                        scans = join.declaration_on_open(state, opened)
                    case join.ScanMatched(container_id=container_id, scan=scan):
                        scans = join.declaration_on_match(state, join.Match(decl_id, container_id, scan))
                    case join.DeadlineCheck(clock=clock):
                        scans = None
                        missing = join.overdue_containers(state, int(clock))
                        if missing is not None:
                            overdue.append((state["open"], missing, event))
                        checked[decl_id] = int(clock)
                    case _:
                        raise ValueError(f"{type(message).__name__} is no declaration message")
                if scans is not None:
                    completed.append((state["open"], scans, event))
                touched[decl_id] = (state, event)
                return True

            outbox, _ = await runner.each(events, "join-declarations", step)
            for decl_id, (state, event) in touched.items():
                kept = state if join.join_kept(state, checked.get(decl_id)) else None
                put(stream, tables.joins, decl_id, kept, event)
                deadlines.note(decl_id, kept, decl_id in created and kept is not None)
            decided = await _post_scan(completed, outbox) if completed else []
            for opened, missing, event in overdue:
                async def send_overdue(opened: dict = opened, missing: list = missing) -> bool:
                    record = {
                        "declaration_id": opened["declaration_id"],
                        "office_id": opened["office_id"],
                        "decision_id": opened["pre_decision_id"],
                        "deadline": int(opened["deadline"]),
                        "missing_containers": missing,
                        "detected_at": now_ms(),
                    }
                    await outbox.send(topics.overdue, record["declaration_id"].encode(), overdue_codec.encode(record))
                    return True

                await runner.guard(outbox, event, "scan-overdue", send_overdue)
            await runner.finish(outbox, events)
            hooks.on_decisions(decided)
            if overdue:
                hooks.on_overdue(len(overdue))
            hooks.on_batch_latency("join", time.perf_counter() - started)

    async def _post_scan(completed: list[tuple[dict, list, Any]], outbox: Any) -> list[dict]:
        """POST_SCAN decisions of completed joins: one image batch, each decision guarded on its own."""
        image_started = time.perf_counter()
        pairs = [(opened, scans) for opened, scans, _ in completed]
        try:
            assessments = await assess_off_loop(p.image_scorer, pairs)
        except Exception:  # noqa: BLE001 - fall back to one scorer call per join, each guarded
            assessments = [None] * len(pairs)
        hooks.on_image_batch(sum(len(s) for _, s in pairs), time.perf_counter() - image_started)
        decided = []
        for (opened, scans, event), found in zip(completed, assessments):
            async def emit(opened: dict = opened, scans: list = scans, found: Any = found) -> dict:
                found = found if found is not None else (await assess_off_loop(p.image_scorer, [(opened, scans)]))[0]
                record = post_scan_decision(opened, scans, found, p.image_scorer.version, p.config, now_ms())
                await outbox.send(topics.decisions, record["declaration_id"].encode(), decisions_codec.encode(record))
                return record

            record = await runner.guard(outbox, event, "post-scan", emit)
            if record is not None:
                decided.append(record)
        return decided

    @p.app.timer(settings.overdue_interval_s, name="zeikan.scan-deadlines")
    async def scan_deadlines() -> None:
        clock = p.state.clock
        await _send_checks(deadlines, topics.declaration_joins, tables.joins, join.DeadlineCheck(clock), clock)
        await _send_checks(expiries, topics.container_events, tables.containers, join.ExpiryCheck(clock), clock)
        hooks.on_join_state(deadlines.entries, len(deadlines.of("pending")), expiries.entries)

    async def _send_checks(index: DueIndex, topic: Any, table: Any, check: Any, clock: int) -> None:
        """Send ``check`` to every key of ``index`` that fell due (rescanning ``table`` after a rebalance)."""
        assigned = frozenset(tp.partition for tp in p.app.consumer.assignment() if tp.topic == topic.get_topic_name())
        if index.scanned_for != assigned:
            index.rescan(table.items(), assigned)
        for key in index.due(clock, assigned, time.monotonic()):
            try:
                await topic.send(key=key.encode(), value=join.encode_message(check))
            except Exception as exc:  # noqa: BLE001 - the broker may be away: the check is sent again after RECHECK_S
                log.warning("%s of %s not sent: %s", type(check).__name__, key, exc)
                break
