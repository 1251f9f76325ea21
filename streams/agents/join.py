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
"""

from __future__ import annotations

import copy
import logging
import time
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


class Deadlines:
    """The open joins' scan deadlines, so the deadline timer never walks the whole (on-disk) table.

    Rebuilt from the table once per assignment of the declaration-keyed partitions (a
    restart, a rebalance), then kept current by the agent's own writes.
    """

    def __init__(self) -> None:
        self.pending: dict[str, tuple[int, int]] = {}
        """declaration_id -> (partition, scan deadline) of joins still waiting for scans."""
        self.entries = 0
        """Join states in the assigned partitions (counted at the rescan, plus the ones created since)."""
        self.scanned_for: frozenset[int] | None = None
        self._checked: dict[str, float] = {}
        """declaration_id -> when (monotonic s) its last deadline check was sent."""

    def due(self, clock: int, assigned: frozenset[int], now: float) -> list[str]:
        """The assigned joins past their deadline at event time ``clock`` that need a check sent at ``now``.

        A check is sent once, and again only if the join is still pending :data:`RECHECK_S` later
        (the check was lost, or the join agent is behind). Re-sending every join on every tick
        flooded a backlog: 1,300 checks every 2 s, each tick took 2-5 s, and the join topics lagged
        2,000 records a partition (``bench/restart.py``, round 5).
        """
        due = [decl_id for decl_id, (partition, deadline) in self.pending.items()
               if partition in assigned and clock > deadline and now - self._checked.get(decl_id, -RECHECK_S) >= RECHECK_S]
        self._checked.update((decl_id, now) for decl_id in due)
        return due

    def note(self, decl_id: str, state: dict[str, Any], created: bool = False) -> None:
        """Take the state just written for ``decl_id`` (``created``: the table had none)."""
        self.entries += created
        opened = state.get("open")
        if opened is not None and not state["done"] and not state["overdue"]:
            self.pending[decl_id] = (int(state["partition"]), int(opened["deadline"]))
        else:
            self.pending.pop(decl_id, None)
            self._checked.pop(decl_id, None)

    def rescan(self, items: list[tuple[str, Any]], assigned: frozenset[int]) -> None:
        """Rebuild from the table's ``items`` for the ``assigned`` partitions."""
        self.pending, self.entries, self.scanned_for, self._checked = {}, 0, assigned, {}
        for decl_id, state in items:
            if state is None or state.get("partition") not in assigned:
                continue
            self.entries += 1
            self.note(decl_id, state)


def register(p: Pipeline) -> None:
    """Add the two join agents and the deadline timer."""
    settings, hooks, topics, tables, runner = p.settings, p.hooks, p.topics, p.tables, p.runner
    lookback = p.config.scan_lookback_ms
    decisions_codec = codec_for(DECISIONS.name)
    overdue_codec = codec_for(SCAN_OVERDUE.name)
    deadlines = Deadlines()

    @p.app.agent(topics.container_events, name="zeikan.join-containers")
    async def containers(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
            touched: dict[str, tuple[dict, Any]] = {}

            async def step(outbox: Any, event: Any) -> int:
                container_id = event_key(event)
                state = touched[container_id][0] if container_id in touched else None
                state = copy.deepcopy(state or tables.containers.get(container_id) or join.new_container_state())
                message = join.decode_message(event.value)
                match message:
                    case join.ScanArrived(scan=scan):
                        matches = join.container_on_scan(state, scan, lookback)
                    case join.ScanRequested(request=request):
                        matches = join.container_on_request(state, container_id, request, lookback)
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
                put(stream, tables.containers, container_id, state, event)
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
                    case _:
                        raise ValueError(f"{type(message).__name__} is no declaration message")
                if scans is not None:
                    completed.append((state["open"], scans, event))
                touched[decl_id] = (state, event)
                return True

            outbox, _ = await runner.each(events, "join-declarations", step)
            for decl_id, (state, event) in touched.items():
                put(stream, tables.joins, decl_id, state, event)
                deadlines.note(decl_id, state, decl_id in created)
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
        assigned = frozenset(
            tp.partition for tp in p.app.consumer.assignment() if tp.topic == topics.declaration_joins.get_topic_name()
        )
        if deadlines.scanned_for != assigned:
            deadlines.rescan(list(tables.joins.items()), assigned)
        for decl_id in deadlines.due(clock, assigned, time.monotonic()):
            try:
                await topics.declaration_joins.send(key=decl_id.encode(), value=join.encode_message(join.DeadlineCheck(clock)))
            except Exception as exc:  # noqa: BLE001 - the broker may be away: the check is sent again after RECHECK_S
                log.warning("scan deadline check of %s not sent: %s", decl_id, exc)
                break
        hooks.on_join_state(deadlines.entries, len(deadlines.pending))
