"""Continuous learning over the folded facts: the training buffer and the promotion record of each boundary.

The live learner (:mod:`zeikan.streams.agents.learn`) and ``zeikan replay``
(:func:`with_promotions`) both feed :class:`Learner` the declarations and inspection
results of each event-time epoch once it is folded, and call :meth:`Learner.decide` at
every scheduled boundary ``B`` once every epoch before ``B`` is folded. So both train
the same candidate on the same events (:func:`zeikan.models.continuous.day_boundary`,
LightGBM deterministic) and write the same ``model-promotions`` record.

The buffer keeps only what the next boundary needs: the events of the last
``train_days``, as their Avro bytes (about a tenth of the decoded records' memory).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from zeikan.errors import InvalidSetting
from zeikan.models.continuous import METRIC, Champion, ContinuousSettings, Step, day_boundary
from zeikan.models.training import MIN_POSITIVES
from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DECLARATIONS, INSPECTION_RESULTS
from zeikan.streams.engine.promotions import DAY_MS, PromotionBook

_SPEC = {"declaration": DECLARATIONS, "inspection": INSPECTION_RESULTS}
_ID = {"declaration": "declaration_id", "inspection": "inspection_id"}

Entry = tuple[int, bytes]
"""(event time, Avro bytes) of one buffered event."""


@dataclass(frozen=True)
class Window:
    """The buffered events a boundary trains on (taken when every epoch before it was folded)."""

    boundary: int
    declarations: list[Entry]
    inspections: list[Entry]

    def decoded(self, train_days: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The declarations and inspection results of the last ``train_days`` before the boundary."""
        start = self.boundary - train_days * DAY_MS
        decl_codec, insp_codec = codec_for(DECLARATIONS.name), codec_for(INSPECTION_RESULTS.name)
        decls = [decl_codec.decode(raw) for t, raw in self.declarations if start <= t < self.boundary]
        insps = [insp_codec.decode(raw) for t, raw in self.inspections if start <= t < self.boundary]
        return decls, insps


class TrainingBuffer:
    """Declarations and inspection results by id (the first of each id wins, as in the shared state)."""

    def __init__(self) -> None:
        self._events: dict[str, dict[str, Entry]] = {"declaration": {}, "inspection": {}}

    def add(self, kind: str, record: Mapping[str, Any]) -> None:
        """Buffer one folded declaration or inspection result."""
        events = self._events[kind]
        key = str(record[_ID[kind]])
        if key not in events:
            spec = _SPEC[kind]
            events[key] = (int(record[spec.time_field]), codec_for(spec.name).encode(dict(record)))

    def window(self, boundary: int) -> Window:
        """The events buffered now (copied references: later additions and pruning do not change it)."""
        return Window(boundary, list(self._events["declaration"].values()), list(self._events["inspection"].values()))

    def prune(self, before: int) -> None:
        """Forget the events older than ``before``."""
        for kind, events in self._events.items():
            self._events[kind] = {k: e for k, e in events.items() if e[0] >= before}

    def counts(self) -> tuple[int, int]:
        """(declarations, inspection results) buffered."""
        return len(self._events["declaration"]), len(self._events["inspection"])

    def nbytes(self) -> int:
        """Bytes of the buffered Avro records (without the dictionary's own overhead)."""
        return sum(len(raw) for events in self._events.values() for _, raw in events.values())


def check_epoch(epoch_ms: int) -> None:
    """Refuse an event-time epoch that does not divide a day: an epoch across a boundary could never fold.

    (Its declarations filed after the boundary would wait for the boundary's record, which
    waits for the epoch.)
    """
    if epoch_ms <= 0 or DAY_MS % epoch_ms:
        raise InvalidSetting("epoch_ms", epoch_ms, f"a divisor of a day ({DAY_MS} ms) with continuous learning on")


class Learner:
    """The promotion book, the training buffer and the decision at each boundary."""

    def __init__(self, settings: ContinuousSettings, book: PromotionBook) -> None:
        self.settings = settings
        self.book = book
        self.buffer = TrainingBuffer()
        self._taken: int | None = None
        """The last boundary whose window was taken."""

    def fold(self, kind: str, record: Mapping[str, Any]) -> None:
        """Take one folded declaration or inspection result."""
        self.buffer.add(kind, record)
        self.book.observe(int(record[_SPEC[kind].time_field]))

    def due(self, watermark: int) -> list[Window]:
        """The windows of the boundaries up to ``watermark`` not taken yet (each once); prunes what no later one needs.

        ``watermark``: every epoch before it is folded.
        """
        origin = self.book.origin
        if origin is None:
            return []
        step = self.book.schedule.step_ms
        start = origin if self._taken is None else self._taken + step
        windows = [self.buffer.window(b) for b in self.book.schedule.boundaries(start, watermark)]
        if windows:
            self._taken = windows[-1].boundary
            self.buffer.prune(windows[-1].boundary + self.book.schedule.step_ms - self.settings.train_days * DAY_MS)
        return windows

    def decide(self, window: Window, champion: Champion) -> tuple[dict[str, Any], Step | None]:
        """The ``model-promotions`` record of ``window``'s boundary (and the candidate, None when too few labels).

        ``champion`` is the model (or the heuristic scorer) of :meth:`PromotionBook.champion`.
        """
        boundary = window.boundary
        live = self.book.champion(boundary)
        decls, insps = window.decoded(self.settings.train_days)
        step = day_boundary(decls, insps, boundary, (live, champion), self.settings)
        record = promotion_record(boundary, boundary + self.book.schedule.delay_ms, live, step, len(decls), len(insps),
                                  self.settings)
        return record, step


def promotion_record(boundary: int, effective_from: int, live: str, step: Step | None, n_decls: int, n_insps: int,
                     settings: ContinuousSettings) -> dict[str, Any]:
    """The ``ModelPromotion`` record of one boundary's decision."""
    cut = boundary - settings.eval_days * DAY_MS
    base = {"boundary": boundary, "effective_from": effective_from, "live": live, "metric": METRIC,
            "train_declarations": n_decls, "train_inspections": n_insps}
    if step is None:
        return {**base, "candidate": None, "promoted": False, "candidate_score": None, "live_score": None,
                "eval_from": cut, "eval_to": boundary, "eval_declarations": 0, "eval_labels": 0, "eval_positives": 0,
                "reason": f"no candidate: fewer than {MIN_POSITIVES} labelled hits filed before {cut}"}
    d = step.decision.to_json()
    return {**base, "candidate": d["candidate"], "promoted": d["promoted"], "candidate_score": d["candidate_score"],
            "live_score": d["live_score"], "eval_from": d["eval_from"], "eval_to": d["eval_to"],
            "eval_declarations": d["eval_declarations"], "eval_labels": d["eval_labels"],
            "eval_positives": d["eval_positives"], "reason": d["reason"]}


Epoch = tuple[int, list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]


def with_promotions(epochs: Iterable[Epoch], learner: Learner, epoch_ms: int,
                    decide: Callable[[Window], dict[str, Any]]) -> Iterator[Epoch]:
    """``epochs`` (a replay timeline), deciding each boundary before the first epoch that starts at or after it.

    ``decide(window)`` returns the boundary's record (and keeps its candidate where the
    scorer finds it); it is added to the learner's book before the next epoch is decided.
    Each epoch is folded into the learner after it was decided, as the live facts are.
    """
    check_epoch(epoch_ms)
    for epoch, decls, insps, scans in epochs:
        for window in learner.due(epoch * epoch_ms):
            learner.book.add(decide(window))
        yield epoch, decls, insps, scans
        for record in sorted(decls, key=lambda d: (int(d["filed_at"]), str(d["declaration_id"]))):
            learner.fold("declaration", record)
        for record in insps:
            learner.fold("inspection", record)
