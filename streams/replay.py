"""``zeikan replay``: the stream's decision logic over event files, in event-time order.

The same engine (:mod:`zeikan.streams.engine`) and join state machine as the live
workers, fed the merged history sorted by event time (declarations, then
inspection results, then scans at equal times). ``decided_at`` is set to the
decision's event time so a replay's output is reproducible byte for byte.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zeikan.models.base import ImageScorer
from zeikan.models.registry import DEFAULT_REGISTRY
from zeikan.schemas.contract import DECLARATIONS, INSPECTION_RESULTS, SCANS
from zeikan.schemas.jsonl import read_jsonl
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.core import DecisionEngine, HistoryEvent, explained_record, order_key
from zeikan.streams.engine.join import JoinBook
from zeikan.streams.engine.post_scan import assess, needs_join, opening, post_scan_decision
from zeikan.streams.engine.rules import RuleBook
from zeikan.streams.errors import HistoryError
from zeikan.streams.scoring import build_feature_state, build_image_scorer, build_shadow_scorers, build_tabular_scorer

log = logging.getLogger(__name__)

FILES = {DECLARATIONS.name: "declarations.jsonl", INSPECTION_RESULTS.name: "inspection-results.jsonl", SCANS.name: "scans.jsonl"}
"""History files read from a ``--history`` directory (only declarations are required)."""

_SCAN_RANK = 2


@dataclass
class History:
    """The valid events of a history directory and how many lines were skipped as invalid."""

    declarations: list[dict[str, Any]] = field(default_factory=list)
    inspections: list[dict[str, Any]] = field(default_factory=list)
    scans: list[dict[str, Any]] = field(default_factory=list)
    invalid: dict[str, int] = field(default_factory=dict)


def read_history(directory: Path) -> History:
    """Read a history directory (the simulator's file layout); invalid lines are counted, not fatal."""
    if not (directory / FILES[DECLARATIONS.name]).is_file():
        raise HistoryError(str(directory), f"no {FILES[DECLARATIONS.name]} (write one with `zeikan simulate --out DIR`)")
    history = History()
    targets = {DECLARATIONS.name: history.declarations, INSPECTION_RESULTS.name: history.inspections, SCANS.name: history.scans}
    for topic, name in FILES.items():
        path = directory / name
        if not path.is_file():
            continue
        for line_no, record in read_jsonl(path, topic):
            if isinstance(record, Exception):
                history.invalid[topic] = history.invalid.get(topic, 0) + 1
                log.warning("%s line %d skipped: %s", path, line_no, record)
            else:
                targets[topic].append(record)
    return history


def timeline(history: History) -> list[tuple[tuple[int, int, str], str, Mapping[str, Any]]]:
    """Every event with its event-time sort key (the order the live stream is published in)."""
    items: list[tuple[tuple[int, int, str], str, Mapping[str, Any]]] = []
    items += [(order_key("declaration", d), "declaration", d) for d in history.declarations]
    items += [(order_key("inspection", r), "inspection", r) for r in history.inspections]
    items += [((int(s["scanned_at"]), _SCAN_RANK, str(s["scan_id"])), "scan", s) for s in history.scans]
    items.sort(key=lambda item: item[0])
    return items


class Replayer:
    """Runs the engine and the join over a timeline, yielding Decision records in order."""

    def __init__(self, engine: DecisionEngine, image_scorer: ImageScorer, config: EngineConfig, batch: int = 512) -> None:
        self._engine = engine
        self._images = image_scorer
        self._config = config
        self._join = JoinBook(config.scan_lookback_ms)
        self._openings: dict[str, dict[str, Any]] = {}
        self._batch = batch

    def run(self, events: list[tuple[tuple[int, int, str], str, Mapping[str, Any]]]) -> Iterator[dict[str, Any]]:
        """Decisions (PRE_ARRIVAL and POST_SCAN) of a sorted timeline."""
        pending: list[HistoryEvent] = []
        for _, kind, record in events:
            if kind == "scan":
                yield from self._flush(pending)
                pending = []
                yield from self._post_scan(self._join.on_scan(record))
                continue
            pending.append(HistoryEvent(kind, record))  # type: ignore[arg-type]
            if len(pending) >= self._batch:
                yield from self._flush(pending)
                pending = []
        yield from self._flush(pending)

    def _flush(self, pending: list[HistoryEvent]) -> Iterator[dict[str, Any]]:
        if not pending:
            return
        for verdict in self._engine.apply(pending):
            yield explained_record(verdict, self._engine.scorer, int(verdict.declaration["filed_at"]))
            if needs_join(verdict):
                opened = opening(verdict, self._config)
                self._openings[verdict.declaration_id] = opened
                yield from self._post_scan(self._join.on_open(opened))

    def _post_scan(self, completed: list[tuple[str, list[Mapping[str, Any]]]]) -> Iterator[dict[str, Any]]:
        if not completed:
            return
        pairs = [(self._openings[decl_id], scans) for decl_id, scans in completed]
        for (opened, scans), assessments in zip(pairs, assess(self._images, pairs)):
            record = post_scan_decision(opened, scans, assessments, self._images.version, self._config, 0)
            record["decided_at"] = record["event_time"]
            yield record


def replay(
    directory: Path, rules: RuleBook, config: EngineConfig, registry: str = DEFAULT_REGISTRY, shadow: str | None = None
) -> tuple[Iterator[dict[str, Any]], History]:
    """Decisions of the history in ``directory`` (lazy) and the history read.

    Scored by the same factories as the workers: the live model of ``registry``
    (the heuristic when none is promoted), the shadow candidates, the image model
    (reading the history's own ``images/`` store when it has one).
    """
    history = read_history(directory)
    scorer = build_tabular_scorer(registry)
    engine = DecisionEngine(build_feature_state(), scorer, lambda: rules, config, build_shadow_scorers(registry, shadow))
    images = directory / "images"
    image_scorer = build_image_scorer(store_url=str(images) if images.is_dir() else None)
    return Replayer(engine, image_scorer, config).run(timeline(history)), history
