"""The offline protocol behind ``zeikan replay``: the stream's decision logic over event files, in event-time order.

The same engine (:mod:`zeikan.streams.engine`), shared state and join state machine
as the live workers, epoch by epoch: the declarations of an event-time epoch are
decided on the state of the epochs before it, then the epoch's declarations and
inspection results are folded in. ``decided_at`` is set to the decision's event time
so a replay's output is reproducible byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zeikan.models.base import ImageScorer
from zeikan.schemas.contract import DECLARATIONS, INSPECTION_RESULTS, SCANS
from zeikan.features.history import Rejections, tally
from zeikan.schemas.jsonl import read_jsonl
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.core import DecisionEngine, explained_record
from zeikan.streams.engine.facts import epoch_of
from zeikan.streams.engine.join import JoinBook
from zeikan.streams.engine.post_scan import assess, needs_join, opening, post_scan_decision
from zeikan.streams.errors import HistoryError


FILES = {DECLARATIONS.name: "declarations.jsonl", INSPECTION_RESULTS.name: "inspection-results.jsonl", SCANS.name: "scans.jsonl"}
"""History files read from a ``--history`` directory (only declarations are required)."""


@dataclass
class History:
    """The valid events of a history directory and how many lines were skipped as invalid."""

    declarations: list[dict[str, Any]] = field(default_factory=list)
    inspections: list[dict[str, Any]] = field(default_factory=list)
    scans: list[dict[str, Any]] = field(default_factory=list)
    rejections: Rejections = field(default_factory=Rejections)


def read_history(directory: Path) -> History:
    """Read a history directory (the simulator's file layout).

    Invalid lines are counted by file, field and kind (``history.rejections``); a file with more
    than :data:`~zeikan.features.history.MAX_REJECTED_SHARE` of its lines rejected stops the
    reading with a one-line :class:`~zeikan.features.errors.TooManyRejectedError`.
    """
    if not (directory / FILES[DECLARATIONS.name]).is_file():
        raise HistoryError(str(directory), f"no {FILES[DECLARATIONS.name]} (write one with `zeikan simulate --out DIR`)")
    history = History()
    targets = {DECLARATIONS.name: history.declarations, INSPECTION_RESULTS.name: history.inspections, SCANS.name: history.scans}
    for topic, name in FILES.items():
        path = directory / name
        if path.is_file():
            targets[topic].extend(tally(read_jsonl(path, topic), name, history.rejections))
            history.rejections.check(name)
    return history


_RANK = {"declaration": 0, "inspection": 1, "scan": 2}
_TIME = {"declaration": DECLARATIONS.time_field, "inspection": INSPECTION_RESULTS.time_field, "scan": SCANS.time_field}
_ID = {"declaration": "declaration_id", "inspection": "inspection_id", "scan": "scan_id"}


def event_order(history: History) -> list[tuple[tuple[int, int, str], str, Mapping[str, Any]]]:
    """Every event with its (time, kind rank, id) key, sorted: the order a live feed publishes them in."""
    items = [
        ((int(r[_TIME[kind]]), _RANK[kind], str(r[_ID[kind]])), kind, r)
        for kind, records in (("declaration", history.declarations), ("inspection", history.inspections), ("scan", history.scans))
        for r in records
    ]
    items.sort(key=lambda item: item[0])
    return items


def timeline(history: History, epoch_ms: int) -> list[tuple[int, list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]]:
    """(epoch, declarations, inspections, scans) per event-time epoch, in epoch order; scans by time within one."""
    epochs: dict[int, tuple[list, list, list]] = {}
    for index, (records, field_name) in enumerate(
        ((history.declarations, _TIME["declaration"]), (history.inspections, _TIME["inspection"]), (history.scans, _TIME["scan"]))
    ):
        for record in records:
            epochs.setdefault(epoch_of(int(record[field_name]), epoch_ms), ([], [], []))[index].append(record)
    out = []
    for epoch in sorted(epochs):
        decls, insps, scans = epochs[epoch]
        scans.sort(key=lambda s: (int(s["scanned_at"]), str(s["scan_id"])))
        out.append((epoch, decls, insps, scans))
    return out


class Replayer:
    """Runs the engine and the join over a history, epoch by epoch, yielding Decision records.

    Exactly the live protocol with every source in step: the declarations of an epoch are
    decided on the shared state of the epochs before it, then the epoch is folded.
    """

    def __init__(self, engine: DecisionEngine, image_scorer: ImageScorer, config: EngineConfig) -> None:
        self._engine = engine
        self._images = image_scorer
        self._config = config
        self._join = JoinBook(config.scan_lookback_ms)
        self._openings: dict[str, dict[str, Any]] = {}

    def run(self, epochs: list[tuple[int, list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]]) -> Iterator[dict[str, Any]]:
        """Decisions (PRE_ARRIVAL and POST_SCAN) of a :func:`timeline`."""
        for epoch, decls, insps, scans in epochs:
            for verdict in self._engine.run_epoch(epoch, decls, insps):
                yield explained_record(verdict, self._engine.scorer, int(verdict.declaration["filed_at"]))
                if needs_join(verdict):
                    opened = opening(verdict, self._config)
                    self._openings[verdict.declaration_id] = opened
                    yield from self._post_scan(self._join.on_open(opened))
            for scan in scans:
                yield from self._post_scan(self._join.on_scan(scan))

    def _post_scan(self, completed: list[tuple[str, list[Mapping[str, Any]]]]) -> Iterator[dict[str, Any]]:
        if not completed:
            return
        pairs = [(self._openings[decl_id], scans) for decl_id, scans in completed]
        for (opened, scans), assessments in zip(pairs, assess(self._images, pairs)):
            record = post_scan_decision(opened, scans, assessments, self._images.version, self._config, 0)
            record["decided_at"] = record["event_time"]
            yield record
