"""The PRE_ARRIVAL decision engine: features -> score -> rules -> lane.

A pure function of a declaration and the shared state as of its epoch
(:mod:`~zeikan.streams.engine.shared_state`): a Faust worker that owns the
declaration's partition and ``zeikan replay`` reach the same verdict. The engine
never changes the state; the decided declaration reaches it as a fact.

Two models may score a declaration: the risk model (every lane's rank key) and, when the
registry has one, the *seizure key* (role ``seizure``), which ranks containers in the
container lanes instead of the risk score (:func:`~zeikan.streams.engine.capacity.container_key`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zeikan.models.base import FeatureRow, PerDeclarationScorer, TabularScorer
from zeikan.streams.engine.capacity import (
    LOOSE_CARGO_OFFSET, GrantedLane, Keys, Thresholds, container_key, event_day, grant_lane,
)
from zeikan.schemas.contract import DECLARATIONS
from zeikan.streams.engine.facts import Fact, Outcome, content_digest
from zeikan.streams.engine.records import ENGINE_VERSION, PRE_ARRIVAL, decision_record
from zeikan.streams.engine.lanes import Action, strongest
from zeikan.streams.engine.rules import RuleBook, RuleOutcome
from zeikan.streams.engine.selection import keyed_uniform
from zeikan.streams.engine.shared_state import SharedState

ShadowScorer = Callable[[Sequence[Mapping], Sequence[FeatureRow], Sequence[float]], list[dict[str, float]]]
"""(declarations, features, live scores) -> {candidate version: score} per declaration (recorded, never acted on)."""

TIE_BREAK_SCALE = 1e-9
"""Scores are ranked with a tiny keyed-hash jitter so equal scores split capacity exactly."""


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
    keys: Keys
    """Its rank key (the score, jittered) and container key."""
    digest: str
    """Content digest of the declaration (part of the decision id)."""
    state_version: str
    """Version of the shared state it was decided on (part of the decision id)."""
    granted: GrantedLane
    """The lane the score and the rules got within the office's lane buckets and rule cuts, and why if either moved it
    down."""
    shadow_scores: Mapping[str, float] = field(default_factory=dict)
    seizure_score: float | None = None
    """The seizure key's score (None without a seizure model: the container lanes rank by the risk score)."""

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
            key = self.thresholds.key(self.risk_action, self.keys)
            if key == self.keys.rank:
                out.append(f"model score {self.tabular_score:.3f} reached the {self.risk_action.value} cut {cut:.3f}")
            elif self.seizure_score is not None and key == self.keys.container and self.declaration.get("containers"):
                out.append(f"seizure key {self.seizure_score:.3f} reached the {self.risk_action.value} cut {cut:.3f} "
                           "(the lane ranks containers by it)")
            else:
                out.append(f"model score {self.tabular_score:.3f} reached the {self.risk_action.value} cut for loose "
                           f"cargo {cut + LOOSE_CARGO_OFFSET:.3f} (the lane takes containers first)")
        out += self.rules.reasons
        if self.granted.ranked_out is not None:
            out.append(self.granted.ranked_out)
        if self.granted.reason is not None:
            out.append(self.granted.reason)
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
            inputs=(self.digest, self.state_version),
        )

    def outcome(self) -> Outcome:
        """What this decision adds to the shared capacity and random-selection counts."""
        lane = self.random_action.value if self.random_action is not None else None
        floor = self.rules.floor.value if self.rules.floor is not None else None
        return Outcome(self.keys.rank, self.risk_action.value, self.action.value, lane, self.digest, floor,
                       self.keys.container)

    @property
    def rank_key(self) -> float:
        """The model's score with its keyed tie-break jitter."""
        return self.keys.rank


class DecisionEngine:
    """Decides declarations on the shared state as of their epoch (it never changes that state)."""

    def __init__(
        self,
        state: SharedState,
        scorer: TabularScorer,
        rules: Callable[[], RuleBook],
        shadow: ShadowScorer | None = None,
        seizure: TabularScorer | None = None,
    ) -> None:
        self.state = state
        self._scorer = scorer
        self._shadow = shadow
        self._rules = rules
        self._seizure = seizure

    @property
    def scorer(self) -> TabularScorer:
        """The tabular scorer (its ``explain`` gives reasons for selections)."""
        return self._scorer

    def decide(self, declarations: Sequence[Mapping], digests: Sequence[str] | None = None) -> list[Verdict]:
        """Verdicts of ``declarations`` (with their content digests, computed when not given), one predict call."""
        if not declarations:
            return []
        if digests is None:
            digests = [content_digest(DECLARATIONS.name, d) for d in declarations]
        rows = [self.state.features.features(d) for d in declarations]
        scores = self._scorer.score_batch(declarations, rows)
        seizure = self._seizure.score_batch(declarations, rows) if self._seizure else scores
        shadows = self._shadow(declarations, rows, scores) if self._shadow else [{} for _ in declarations]
        book = self._rules()
        version_of = self._scorer.version_of if isinstance(self._scorer, PerDeclarationScorer) else None
        tabular = [version_of(d) for d in declarations] if version_of else [self._scorer.version] * len(declarations)
        fixed = {"rules": book.version, "engine": ENGINE_VERSION} | ({"seizure": self._seizure.version} if self._seizure else {})
        return [
            self._decide(decl, feats, float(score), float(seized), book, {"tabular": version} | fixed, shadow, digest)
            for decl, feats, score, seized, shadow, digest, version in zip(declarations, rows, scores, seizure, shadows,
                                                                           digests, tabular)
        ]

    def run_epoch(self, epoch: int, declarations: Sequence[Mapping], inspections: Sequence[Mapping] = ()) -> list[Verdict]:
        """Decide one closed epoch's new declarations (first of each id), then fold the epoch in.

        The offline protocol (``zeikan replay``, tests, benches): every source is in step.
        """
        fresh: dict[str, Mapping] = {}
        for decl in sorted(declarations, key=lambda d: (int(d["filed_at"]), str(d["declaration_id"]))):
            decl_id = str(decl["declaration_id"])
            if decl_id not in fresh and self.state.known(decl_id) is None:
                fresh[decl_id] = decl
        chosen = list(fresh.values())
        verdicts = self.decide(chosen, [content_digest(DECLARATIONS.name, d) for d in chosen])
        facts = [Fact("declaration", "replay", epoch, v.declaration, v.outcome()) for v in verdicts]
        facts += [Fact("inspection", "replay", epoch, r) for r in inspections]
        self.state.fold_epoch(epoch, facts)
        return verdicts

    def _decide(
        self, decl: Mapping, feats: dict[str, float], score: float, seizure: float, book: RuleBook,
        versions: Mapping[str, str], shadow: Mapping[str, float], digest: str,
    ) -> Verdict:
        state = self.state
        office = str(decl["office_id"])
        day = event_day(int(decl["filed_at"]))
        thresholds = state.capacity.thresholds(office, day)
        jitter = TIE_BREAK_SCALE * keyed_uniform("rank", str(decl["declaration_id"]))
        rank_key = score + jitter
        keys = Keys(rank_key, container_key(seizure + jitter, bool(decl.get("containers"))))
        risk_action = thresholds.risk_action(keys)
        outcome = book.evaluate(decl, feats)
        granted = grant_lane(risk_action, outcome.floor, outcome.floor_rules, state.capacity.lane_room(office, day),
                             thresholds.key(outcome.floor, keys), thresholds.rule_cut(outcome.floor))
        random_action = state.random.draw(office, str(decl["declaration_id"]))
        return Verdict(
            declaration=decl,
            features=feats,
            tabular_score=score,
            rules=outcome,
            risk_action=risk_action,
            random_action=random_action,
            action=strongest(granted.lane, random_action),
            thresholds=thresholds,
            versions=versions,
            keys=keys,
            digest=digest,
            state_version=state.version,
            shadow_scores=shadow,
            granted=granted,
            seizure_score=seizure if self._seizure else None,
        )


def explained_record(verdict: Verdict, scorer: TabularScorer, decided_at: int) -> dict[str, Any]:
    """The Decision record of ``verdict``; model explanations only for selections (they are costly)."""
    reasons: Sequence[str] = ()
    if verdict.action is not Action.RELEASE:
        reasons = scorer.explain(verdict.declaration, verdict.features).reasons
    return verdict.record(decided_at, reasons)
