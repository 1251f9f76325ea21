"""The PRE_ARRIVAL decision engine: features -> score -> rules -> lane, in event-time order.

The engine is a deterministic state machine over the *global* event history
(declarations and inspection results of every partition). Fed the same events
in the same order it reaches the same state and the same verdicts, whether it
runs inside a Faust worker (fed by the watermark follower) or in ``zeikan replay``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from zeikan.features.base import FeatureState
from zeikan.models.base import FeatureRow, TabularScorer
from zeikan.streams.engine.capacity import CapacityTracker, Thresholds, event_day
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.decide import ENGINE_VERSION, PRE_ARRIVAL, decision_record
from zeikan.streams.engine.lanes import Action, strongest
from zeikan.streams.engine.rules import RuleBook, RuleOutcome
from zeikan.streams.engine.selection import RandomSelector, keyed_uniform

EventKind = Literal["declaration", "inspection"]

_TIME_FIELD = {"declaration": "filed_at", "inspection": "inspected_at"}
_ID_FIELD = {"declaration": "declaration_id", "inspection": "inspection_id"}
_RANK = {"declaration": 0, "inspection": 1}

ShadowScorer = Callable[[Sequence[Mapping], Sequence[FeatureRow], Sequence[float]], list[dict[str, float]]]
"""(declarations, features, live scores) -> {candidate version: score} per declaration (recorded, never acted on)."""

TIE_BREAK_SCALE = 1e-9
"""Scores are ranked with a tiny keyed-hash jitter so equal scores split capacity exactly."""


def event_time(kind: EventKind, record: Mapping) -> int:
    """The event time (epoch ms) of a history record of ``kind``."""
    return int(record[_TIME_FIELD[kind]])


def order_key(kind: EventKind, record: Mapping) -> tuple[int, int, str]:
    """Total event-time order of the history: time, declarations before inspections (as the feature state folds them), event id."""
    return (event_time(kind, record), _RANK[kind], str(record[_ID_FIELD[kind]]))


@dataclass(frozen=True)
class HistoryEvent:
    """One event of the global history the engine folds in."""

    kind: EventKind
    record: Mapping[str, Any]

    @property
    def key(self) -> tuple[int, int, str]:
        """Its place in the total event-time order."""
        return order_key(self.kind, self.record)


@dataclass(frozen=True)
class Verdict:
    """The engine's PRE_ARRIVAL outcome for one declaration (before explanation)."""

    declaration: Mapping[str, Any]
    features: Mapping[str, float]
    tabular_score: float
    rules: RuleOutcome
    risk_action: Action
    random_action: Action | None
    action: Action
    thresholds: Thresholds
    versions: Mapping[str, str]
    shadow_scores: Mapping[str, float] = field(default_factory=dict)

    @property
    def declaration_id(self) -> str:
        """Id of the declaration decided."""
        return str(self.declaration["declaration_id"])

    @property
    def risk_score(self) -> float:
        """Combined risk: the stronger of the model and the rules."""
        return max(self.tabular_score, self.rules.score)

    def reasons(self, explanation: Sequence[str] = ()) -> list[str]:
        """Plain-language reasons: why the lane, then model reasons (for selections)."""
        out: list[str] = []
        if self.risk_action is not Action.RELEASE:
            cut = self.thresholds.cuts[self.risk_action]
            out.append(f"model score {self.tabular_score:.3f} reached the {self.risk_action.value} cut {cut:.3f}")
        out += self.rules.reasons
        if self.random_action is not None:
            out.append(f"random selection for {self.random_action.value} (unbiased control sample)")
        out += explanation
        if not out:
            cut = self.thresholds.cuts[Action.DOCUMENT_CHECK]
            out.append(f"model score {self.tabular_score:.3f} below the DOCUMENT_CHECK cut {cut:.3f}")
        return out

    def record(self, decided_at: int, explanation: Sequence[str] = ()) -> dict[str, Any]:
        """The PRE_ARRIVAL Decision record."""
        decl = self.declaration
        return decision_record(
            declaration_id=self.declaration_id,
            office_id=str(decl["office_id"]),
            stage=PRE_ARRIVAL,
            action=self.action,
            risk_score=self.risk_score,
            scores={"tabular": self.tabular_score, "image": None, "rules": self.rules.score},
            reasons=self.reasons(explanation),
            rule_hits=self.rules.hits,
            random_selected=self.random_action is not None,
            model_versions=self.versions,
            event_time=int(decl["filed_at"]),
            decided_at=decided_at,
            shadow_scores=self.shadow_scores,
        )


class DecisionEngine:
    """Folds the history in event-time order and decides each declaration once."""

    def __init__(
        self,
        features: FeatureState,
        scorer: TabularScorer,
        rules: Callable[[], RuleBook],
        config: EngineConfig,
        shadow: ShadowScorer | None = None,
        on_thresholds: Callable[[str, Thresholds], None] | None = None,
    ) -> None:
        """``on_thresholds(office, thresholds)`` is told each office-day's cuts when they are fixed."""
        self._features = features
        self._scorer = scorer
        self._shadow = shadow
        self._rules = rules
        self._config = config
        self._capacity = CapacityTracker(config, on_thresholds)
        self._random = RandomSelector(config.random_rate, config.selection_key)
        self._seen: set[str] = set()
        self.clock = 0
        """Largest event time folded in so far (the engine's event-time clock)."""

    @property
    def feature_state(self) -> FeatureState:
        """The entity history the features come from."""
        return self._features

    @property
    def scorer(self) -> TabularScorer:
        """The tabular scorer (its ``explain`` gives reasons for selections)."""
        return self._scorer

    def apply(self, events: Sequence[HistoryEvent]) -> list[Verdict]:
        """Fold ``events`` (already in :func:`order_key` order) in; verdicts of new declarations."""
        fresh: list[tuple[Mapping, dict[str, float]]] = []
        for event in events:
            if event.kind == "inspection":
                self._features.observe_inspection(event.record)
            else:
                decl_id = str(event.record["declaration_id"])
                if decl_id in self._seen:
                    continue
                self._seen.add(decl_id)
                fresh.append((event.record, self._features.features(event.record)))
                self._features.observe_declaration(event.record)
            self.clock = max(self.clock, event_time(event.kind, event.record))
        if not fresh:
            return []
        decls, rows = [d for d, _ in fresh], [f for _, f in fresh]
        scores = self._scorer.score_batch(decls, rows)
        shadows = self._shadow(decls, rows, scores) if self._shadow else [{} for _ in fresh]
        book = self._rules()
        versions = {"tabular": self._scorer.version, "rules": book.version, "engine": ENGINE_VERSION}
        return [
            self._decide(decl, feats, float(score), book, versions, shadow)
            for (decl, feats), score, shadow in zip(fresh, scores, shadows)
        ]

    def _decide(
        self, decl: Mapping, feats: dict[str, float], score: float, book: RuleBook, versions: Mapping[str, str],
        shadow: Mapping[str, float],
    ) -> Verdict:
        office = str(decl["office_id"])
        day = event_day(int(decl["filed_at"]))
        thresholds = self._capacity.thresholds(office, day)
        rank_key = score + TIE_BREAK_SCALE * keyed_uniform("rank", str(decl["declaration_id"]))
        risk_action = thresholds.risk_action(rank_key)
        outcome = book.evaluate(decl, feats)
        random_action = self._random.draw(office, str(decl["declaration_id"]))
        action = strongest(risk_action, outcome.floor, random_action)
        self._capacity.record(office, day, rank_key, risk_action, action)
        return Verdict(
            declaration=decl,
            features=feats,
            tabular_score=score,
            rules=outcome,
            risk_action=risk_action,
            random_action=random_action,
            action=action,
            thresholds=thresholds,
            versions=versions,
            shadow_scores=shadow,
        )


def explained_record(verdict: Verdict, scorer: TabularScorer, decided_at: int) -> dict[str, Any]:
    """The Decision record of ``verdict``; model explanations only for selections (they are costly)."""
    reasons: Sequence[str] = ()
    if verdict.action is not Action.RELEASE:
        reasons = scorer.explain(verdict.declaration, verdict.features).reasons
    return verdict.record(decided_at, reasons)
