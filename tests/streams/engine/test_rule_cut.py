"""Rule cuts: the rules' asks for a lane are ranked by rank key against the previous days' asks, not taken first-come."""

from __future__ import annotations

import math
import random

import pytest

from tests.streams.engine.test_forced_cap import SCAN_EVERY_CONTAINER, run_with_rules
from tests.streams.pipeline_factories import history
from zeikan.streams.engine.capacity import CapacityTracker, LaneRoom, event_day, grant_lane, ranked_out_ask
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.facts import Outcome
from zeikan.streams.engine.lanes import SELECTED_LANES, Action

CONFIG = EngineConfig()


def day_with_asks(seed: int, order_seed: int | None = None) -> tuple[CapacityTracker, list[float]]:
    """Office JPYOK, day 10: 400 declarations; 100 of them rule asks for SCAN above a RELEASE score, 30 SCANs the
    model itself picked (a rule agreeing with the score is no ask). Returns the tracker and the asks' keys."""
    rng = random.Random(seed)
    rows = [(rng.random(), Action.RELEASE, Action.RELEASE, Action.SCAN) for _ in range(100)]
    rows += [(rng.random(), Action.SCAN, Action.SCAN, Action.SCAN) for _ in range(30)]
    rows += [(rng.random(), Action.RELEASE, Action.RELEASE, None) for _ in range(270)]
    if order_seed is not None:
        random.Random(order_seed).shuffle(rows)
    tracker = CapacityTracker(CONFIG)
    for key, risk, final, asked in rows:
        tracker.record("JPYOK", 10, key, risk, final, asked)
    return tracker, [key for key, risk, _, asked in rows if asked is not None and risk is Action.RELEASE]


def test_the_rule_cut_keeps_the_highest_asks_of_the_previous_days_up_to_the_lane_s_capacity():
    tracker, asks = day_with_asks(seed=1)
    keep = round((CONFIG.default_share[Action.SCAN] - CONFIG.random_rate[Action.SCAN]) * 400)
    assert keep == 18
    cut = tracker.thresholds("JPYOK", 11).rule_cut(Action.SCAN)
    assert cut == sorted(asks, reverse=True)[keep - 1]
    assert sum(key >= cut for key in asks) == keep
    assert tracker.thresholds("JPYOK", 11).rule_cut(Action.PHYSICAL_EXAM) == -math.inf, "no asks: every one passes"
    assert tracker.thresholds("JPYOK", 11).rule_cut(None) == -math.inf
    shuffled, _ = day_with_asks(seed=1, order_seed=9)
    assert shuffled.thresholds("JPYOK", 11) == tracker.thresholds("JPYOK", 11), "the fold order does not matter"


def test_an_ask_below_the_rule_cut_gets_the_score_s_lane_with_its_reason_and_one_above_it_its_lane():
    tracker, _ = day_with_asks(seed=2)
    thresholds = tracker.thresholds("JPYOK", 11)
    cut = thresholds.rule_cut(Action.SCAN)
    room = LaneRoom({lane: 10.0 for lane in SELECTED_LANES}, {lane: 0 for lane in SELECTED_LANES})
    above = grant_lane(Action.RELEASE, Action.SCAN, ["r1"], room, cut + 1e-6, cut)
    assert (above.lane, above.floor, above.ranked_out, above.reason) == (Action.SCAN, Action.SCAN, None, None)
    below = grant_lane(Action.DOCUMENT_CHECK, Action.SCAN, ["r1"], room, cut - 1e-6, cut)
    assert (below.lane, below.floor, below.reason) == (Action.DOCUMENT_CHECK, None, None)
    assert ranked_out_ask(below.ranked_out) is Action.SCAN and below.ranked_out.startswith("rule r1 asked for SCAN")
    released = grant_lane(Action.RELEASE, Action.SCAN, ["r1", "r2"], room, cut - 1e-6, cut)
    assert released.lane is Action.RELEASE and released.ranked_out.startswith("rules r1, r2 asked for SCAN")
    assert grant_lane(Action.SCAN, Action.SCAN, ["r1"], room, -1.0, cut).ranked_out is None, "the score's own lane"


def test_the_engine_grants_the_rules_highest_asks_not_the_first_ones_and_stays_deterministic():
    hist = history(days=4, per_day=300, seed=21)
    verdicts = run_with_rules(hist)
    first_day = event_day(min(v.declaration["filed_at"] for v in verdicts))
    granted: dict[tuple[str, int], list[float]] = {}
    ranked_out: dict[tuple[str, int], list[float]] = {}
    for v in verdicts:
        day = event_day(int(v.declaration["filed_at"]))
        if day == first_day or v.rules.floor is not Action.SCAN or v.risk_action >= Action.SCAN:
            continue
        key = (str(v.declaration["office_id"]), day)
        cut = v.thresholds.rule_cut(Action.SCAN)
        if v.granted.ranked_out is not None:
            assert v.rank_key < cut and v.granted.floor is None
            ranked_out.setdefault(key, []).append(v.rank_key)
        else:
            assert v.rank_key >= cut
            if v.granted.floor is Action.SCAN:
                granted.setdefault(key, []).append(v.rank_key)
    both = [key for key in granted if key in ranked_out]
    assert len(both) >= 5, "the cut binds at several office-days"
    for key in both:
        assert min(granted[key]) > max(ranked_out[key]), f"{key}: a lower ask was granted before a higher one"
    again = run_with_rules(hist, seed_order=5)
    assert sorted(v.record(0)["decision_id"] for v in verdicts) == sorted(v.record(0)["decision_id"] for v in again)


def test_the_outcome_carries_the_rules_ask_and_reads_the_older_five_element_list():
    outcome = Outcome(0.25, "RELEASE", "SCAN", None, "d", "SCAN")
    assert Outcome.from_json(outcome.to_json()) == outcome
    older = Outcome.from_json(b'[0.25, "RELEASE", "SCAN", null, "d"]')
    assert older == Outcome(0.25, "RELEASE", "SCAN", None, "d") and older.rule_lane is None


@pytest.mark.parametrize("asked", [None, Action.SCAN])
def test_only_an_ask_above_the_score_s_lane_enters_the_pool(asked):
    tracker = CapacityTracker(CONFIG)
    for n in range(400):
        tracker.record("JPYOK", 10, n / 400, Action.SCAN if n % 10 == 0 else Action.RELEASE, Action.SCAN, asked)
    cut = tracker.thresholds("JPYOK", 11).rule_cut(Action.SCAN)
    if asked is None:
        assert cut == -math.inf
    else:
        asks = [n / 400 for n in range(400) if n % 10]
        assert cut == sorted(asks, reverse=True)[17]
