"""Container lanes: SCAN and PHYSICAL_EXAM rank declarations with containers first; loose cargo goes to the document lane."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from tests.streams.engine.test_engine import HashScorer, run_engine
from tests.streams.pipeline_factories import history
from zeikan.streams.engine.capacity import CapacityTracker, Keys, container_key, event_day
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.facts import Outcome
from zeikan.streams.engine.lanes import SELECTED_LANES, Action
from zeikan.streams.engine.selection import keyed_uniform

CONFIG = EngineConfig()
VOLUME = 400


def one_day(config: EngineConfig, container_share: float, seed: int = 1) -> tuple[CapacityTracker, list[tuple[Keys, bool]]]:
    """Office JPYOK, day 10: ``VOLUME`` released declarations, a ``container_share`` of them with containers."""
    rng = random.Random(seed)
    tracker = CapacityTracker(config)
    rows = []
    for _ in range(VOLUME):
        rank, boxed = rng.random(), rng.random() < container_share
        keys = Keys(rank, container_key(rank, boxed))
        tracker.record("JPYOK", 10, keys.rank, Action.RELEASE, Action.RELEASE, container=keys.container)
        rows.append((keys, boxed))
    return tracker, rows


def lanes_of(tracker: CapacityTracker, rows: list[tuple[Keys, bool]]) -> list[Action]:
    """The score's lane on day 11 of each of day 10's declarations (day 11 looks like day 10)."""
    thresholds = tracker.thresholds("JPYOK", 11)
    return [thresholds.risk_action(keys) for keys, _ in rows]


def expected_counts(config: EngineConfig) -> dict[Action, int]:
    return {lane: round(config.default_share[lane] * VOLUME) for lane in SELECTED_LANES}


def test_the_container_lanes_take_the_highest_containers_and_the_document_lane_the_highest_of_the_rest():
    tracker, rows = one_day(CONFIG, container_share=0.5)
    lanes = lanes_of(tracker, rows)
    assert Counter(lanes) - Counter({Action.RELEASE: VOLUME}) == Counter(expected_counts(CONFIG))
    boxed = [(keys.rank, lane) for (keys, has), lane in zip(rows, lanes) if has]
    loose = [(keys.rank, lane) for (keys, has), lane in zip(rows, lanes) if not has]
    assert {lane for _, lane in loose} <= {Action.DOCUMENT_CHECK, Action.RELEASE}, "loose cargo never scanned"
    physical = [r for r, lane in boxed if lane in (Action.PHYSICAL_EXAM, Action.SCAN)]
    assert min(physical) > max(r for r, lane in boxed if lane not in (Action.PHYSICAL_EXAM, Action.SCAN))
    exams = [r for r, lane in boxed if lane is Action.PHYSICAL_EXAM]
    assert min(exams) > max(r for r, lane in boxed if lane is Action.SCAN)
    documents = [r for r, lane in boxed + loose if lane is Action.DOCUMENT_CHECK]
    rest = [r for r, lane in boxed + loose if lane is Action.RELEASE]
    assert min(documents) > max(rest)
    assert max(r for r, _ in loose) > min(physical), "a loose declaration ranked above a scanned container"


def test_an_office_without_containers_fills_the_container_lanes_by_score():
    tracker, rows = one_day(CONFIG, container_share=0.0)
    plain, plain_rows = one_day(EngineConfig(container_lanes=()), container_share=0.0)
    assert lanes_of(tracker, rows) == lanes_of(plain, plain_rows)
    assert Counter(lanes_of(tracker, rows)) - Counter({Action.RELEASE: VOLUME}) == Counter(expected_counts(CONFIG))


def test_without_container_lanes_every_lane_ranks_by_the_score():
    config = EngineConfig(container_lanes=())
    tracker, rows = one_day(config, container_share=0.5)
    lanes = lanes_of(tracker, rows)
    by_score = [lane for _, lane in sorted(zip((keys.rank for keys, _ in rows), lanes), reverse=True)]
    counts = expected_counts(config)
    assert by_score[: counts[Action.PHYSICAL_EXAM]] == [Action.PHYSICAL_EXAM] * counts[Action.PHYSICAL_EXAM]
    assert Action.SCAN in {lane for (keys, has), lane in zip(rows, lanes) if not has}


def test_a_rule_ask_for_a_container_lane_is_ranked_by_the_container_key():
    tracker = CapacityTracker(CONFIG)
    for n in range(VOLUME):
        rank = n / VOLUME
        tracker.record("JPYOK", 10, rank, Action.RELEASE, Action.RELEASE, Action.SCAN, container_key(rank, n % 2 == 0))
    cut = tracker.thresholds("JPYOK", 11).rule_cut(Action.SCAN)
    keep = round((CONFIG.default_share[Action.SCAN] - CONFIG.random_rate[Action.SCAN]) * VOLUME)
    boxed = sorted((n / VOLUME for n in range(0, VOLUME, 2)), reverse=True)
    assert cut == boxed[keep - 1], "the asks kept are the highest-ranked containers"


def test_the_outcome_carries_the_container_key_and_reads_older_lists():
    outcome = Outcome(0.25, "RELEASE", "SCAN", None, "d", "SCAN", -1.75)
    assert Outcome.from_json(outcome.to_json()) == outcome
    assert Outcome.from_json(b'[0.25, "RELEASE", "SCAN", null, "d", "SCAN"]').container_key is None
    tracker = CapacityTracker(CONFIG)
    tracker.record("JPYOK", 10, 0.25, Action.RELEASE, Action.RELEASE)
    assert tracker.snapshot()["days"]["JPYOK"]["10"]["container_keys"] == [0.25], "None: the rank key"


def test_the_engine_scans_loose_cargo_only_where_no_container_ranks_above_it():
    hist = history(days=4, per_day=300, seed=31)
    rng = random.Random(5)
    for decl in hist["declarations"]:
        if rng.random() < 0.5:
            decl["containers"] = []
    verdicts = run_engine(hist, HashScorer())
    first_day = event_day(min(v.declaration["filed_at"] for v in verdicts))
    later = [v for v in verdicts if event_day(int(v.declaration["filed_at"])) > first_day]
    physical = [v for v in later if v.risk_action in (Action.PHYSICAL_EXAM, Action.SCAN)]
    assert physical and all(v.declaration["containers"] for v in physical)
    loose_documents = [v for v in later if v.risk_action is Action.DOCUMENT_CHECK and not v.declaration["containers"]]
    assert loose_documents, "the document lane takes the loose cargo the container lanes passed over"
    scores = [v.reasons()[0] for v in physical]
    assert all("reached the" in r and "loose cargo" not in r for r in scores)
    again = run_engine(hist, HashScorer())
    assert [v.record(0)["decision_id"] for v in verdicts] == [v.record(0)["decision_id"] for v in again]


class SeizureScorer(HashScorer):
    """A seizure key independent of the risk score."""

    version = "seizure-1"

    def score_batch(self, declarations, features):
        return [keyed_uniform("seizure", d["declaration_id"]) for d in declarations]


def test_a_seizure_key_ranks_the_containers_of_the_container_lanes():
    hist = history(days=4, per_day=300, seed=31)
    verdicts = run_engine(hist, HashScorer(), seizure=SeizureScorer())
    first_day = event_day(min(v.declaration["filed_at"] for v in verdicts))
    groups: dict[tuple[str, int], tuple[list[float], list[float]]] = {}
    for v in verdicts:
        day = event_day(int(v.declaration["filed_at"]))
        if day > first_day and v.declaration["containers"]:
            taken, passed = groups.setdefault((v.declaration["office_id"], day), ([], []))
            (taken if v.risk_action in (Action.PHYSICAL_EXAM, Action.SCAN) else passed).append(v.seizure_score)
            assert v.seizure_score == keyed_uniform("seizure", v.declaration_id)
            assert v.record(0)["model_versions"]["seizure"] == "seizure-1"
    assert sum(len(taken) for taken, _ in groups.values()) > 20
    for taken, passed in groups.values():
        if taken and passed:
            assert min(taken) > max(passed), "the container lanes take the containers the seizure key ranks highest"
    scanned = [v for v in verdicts if v.risk_action is Action.SCAN and v.declaration["containers"]
               and event_day(int(v.declaration["filed_at"])) > first_day]
    assert scanned and all(v.reasons()[0].startswith("seizure key ") for v in scanned)
    plain = run_engine(hist, HashScorer())
    assert [v.risk_action for v in plain] != [v.risk_action for v in verdicts]
    assert all(v.seizure_score is None and "seizure" not in v.record(0)["model_versions"] for v in plain)


def test_container_lanes_are_selecting_lanes():
    assert EngineConfig.from_mapping({"container_lanes": ["scan"]}).container_lanes == (Action.SCAN,)
    with pytest.raises(ValueError, match="container_lanes"):
        EngineConfig(container_lanes=(Action.RELEASE,))
