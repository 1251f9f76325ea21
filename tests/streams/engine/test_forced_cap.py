"""Office-day lane caps: a lane takes at most its capacity for the day, whether rules or the score ask."""

from __future__ import annotations

import random
from collections import Counter

from tests.streams.engine.test_engine import HashScorer
from tests.streams.pipeline_factories import history
from zeikan.streams.engine.capacity import CapacityTracker, GrantedLane, capped_ask, event_day, grant_lane, lane_cap
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.core import DecisionEngine
from zeikan.streams.engine.lanes import Action, strongest
from zeikan.streams.engine.post_scan import opening
from zeikan.streams.engine.replay import History, timeline
from zeikan.streams.engine.rules import parse_rules
from zeikan.streams.engine.shared_state import SharedState

SCAN_EVERY_CONTAINER = parse_rules(
    "rules: [{id: scan-all, description: every container, when: ['container_count >= 1'], action: SCAN}]", "inline")
SHARES = EngineConfig().default_share


def tracker_with_a_day_of_history(volume: int = 400) -> CapacityTracker:
    """Office JPYOK with ``volume`` released declarations on day 10: day 11's cuts come from history."""
    tracker = CapacityTracker(EngineConfig())
    for n in range(volume):
        tracker.record("JPYOK", 10, n / volume, Action.RELEASE, Action.RELEASE)
    return tracker


def test_a_lane_whose_day_cap_is_used_takes_no_more_rule_forced_selections():
    tracker = tracker_with_a_day_of_history()
    cap = lane_cap(SHARES[Action.SCAN] * 400)
    assert cap == 20
    granted_per_epoch = []
    for _epoch in range(5):  # 6 rule-forced SCANs per epoch, each decided on the state as of the epoch's start
        room = tracker.lane_room("JPYOK", 11)
        lanes = [grant_lane(Action.RELEASE, Action.SCAN, ["r1"], room).lane for _ in range(6)]
        granted_per_epoch.append(lanes.count(Action.SCAN))
        for lane in lanes:
            tracker.record("JPYOK", 11, 0.1, Action.RELEASE, lane)
    # 18 granted before the 4th epoch, whose room (2) it shares; after it, none: 24 = cap + 4 (one epoch's excess)
    assert granted_per_epoch == [6, 6, 6, 6, 0]
    room = tracker.lane_room("JPYOK", 11)
    assert room.used[Action.SCAN] == 24 and room.left(Action.SCAN) == 0


def test_rule_forced_selections_of_a_day_stay_within_its_cap_when_they_come_one_epoch_at_a_time():
    tracker = tracker_with_a_day_of_history()
    granted = 0
    for _epoch in range(60):  # one rule-forced PHYSICAL_EXAM per epoch
        lane = grant_lane(Action.RELEASE, Action.PHYSICAL_EXAM, ["r1"], tracker.lane_room("JPYOK", 11)).lane
        granted += lane is Action.PHYSICAL_EXAM
        tracker.record("JPYOK", 11, 0.1, Action.RELEASE, lane)
    assert granted == lane_cap(SHARES[Action.PHYSICAL_EXAM] * 400) == 8


def test_a_full_lane_refuses_the_score_too_and_the_overflow_goes_down_the_ladder():
    tracker = tracker_with_a_day_of_history()
    for _ in range(20):  # the model's score sent 20 to SCAN (the cap)
        tracker.record("JPYOK", 11, 0.9, Action.SCAN, Action.SCAN)
    room = tracker.lane_room("JPYOK", 11)
    by_score = grant_lane(Action.SCAN, None, [], room)
    assert by_score == GrantedLane(Action.DOCUMENT_CHECK, None, (
        "the model's score asked for SCAN; the office's SCAN capacity for the day (20) "
        "was used by earlier selections: DOCUMENT_CHECK instead"))
    assert capped_ask(by_score.reason) == ("model", Action.SCAN)
    released = grant_lane(Action.RELEASE, Action.SCAN, ["container-of-importer-with-findings"], room)
    assert released.lane is Action.RELEASE and released.floor is None
    assert released.reason == (
        "rule container-of-importer-with-findings asked for SCAN; the office's SCAN capacity for the day (20) "
        "was used by earlier selections: released")
    assert capped_ask(released.reason) == ("rules", Action.SCAN)
    to_score = grant_lane(Action.DOCUMENT_CHECK, Action.SCAN, ["a", "b"], room)
    assert to_score.lane is Action.DOCUMENT_CHECK and to_score.reason.startswith("rules a, b asked for SCAN;")
    for _ in range(32):  # the DOCUMENT_CHECK cap (32) too: nothing left below SCAN
        tracker.record("JPYOK", 11, 0.5, Action.DOCUMENT_CHECK, Action.DOCUMENT_CHECK)
    assert grant_lane(Action.SCAN, None, [], tracker.lane_room("JPYOK", 11)).lane is Action.RELEASE
    # a lane with room, or no history, is untouched
    assert grant_lane(Action.PHYSICAL_EXAM, None, [], room) == GrantedLane(Action.PHYSICAL_EXAM, None)
    assert grant_lane(Action.RELEASE, Action.PHYSICAL_EXAM, ["r1"], room).floor is Action.PHYSICAL_EXAM
    assert grant_lane(Action.RELEASE, Action.SCAN, ["r1"], None).lane is Action.SCAN, "no history: no cap"


def test_a_day_may_also_use_what_the_day_before_left_unused():
    tracker = tracker_with_a_day_of_history()
    for _ in range(5):  # day 11 uses 5 of its 20 scans
        tracker.record("JPYOK", 11, 0.9, Action.SCAN, Action.SCAN)
    assert tracker.thresholds("JPYOK", 11).caps[Action.SCAN] == 20, "day 10 had no cap: nothing carried"
    day12 = tracker.thresholds("JPYOK", 12)
    assert day12.caps[Action.SCAN] == lane_cap(day12.targets[Action.SCAN]) + 15
    assert day12.caps[Action.PHYSICAL_EXAM] == lane_cap(day12.targets[Action.PHYSICAL_EXAM]) + 8


def test_the_cap_is_per_office_day_and_its_count_leaves_with_the_day():
    tracker = tracker_with_a_day_of_history()
    for _ in range(25):
        tracker.record("JPYOK", 11, 0.1, Action.RELEASE, Action.SCAN)
    assert tracker.lane_room("JPYOK", 11).left(Action.SCAN) == 0
    assert tracker.lane_room("JPYOK", 12).used[Action.SCAN] == 0, "a new day starts with its whole cap"
    restored = CapacityTracker(EngineConfig())
    restored.restore(tracker.snapshot())
    assert restored.lane_room("JPYOK", 11) == tracker.lane_room("JPYOK", 11)
    assert restored.lane_room("JPYOK", 12) == tracker.lane_room("JPYOK", 12)
    window = EngineConfig().window_days
    tracker.thresholds("JPYOK", 11 + window + 1)
    assert "11" in tracker.snapshot()["JPYOK"], "kept one day past the window: the next day's cap reads its use"
    tracker.thresholds("JPYOK", 11 + window + 2)
    assert "11" not in tracker.snapshot()["JPYOK"], "then dropped"


def run_with_rules(hist, seed_order: int | None = None):
    config = EngineConfig()
    engine = DecisionEngine(SharedState(config), HashScorer(), lambda: SCAN_EVERY_CONTAINER)
    declarations = list(hist["declarations"])
    if seed_order is not None:
        random.Random(seed_order).shuffle(declarations)
    past = History(declarations=declarations, inspections=hist["inspection-results"])
    return [v for epoch, decls, insps, _ in timeline(past, config.epoch_ms) for v in engine.run_epoch(epoch, decls, insps)]


def test_the_engine_keeps_each_lane_within_its_office_day_cap_and_stays_deterministic():
    hist = history(days=4, per_day=300, seed=21)
    verdicts = run_with_rules(hist)
    config = EngineConfig()
    first_day = event_day(min(v.declaration["filed_at"] for v in verdicts))
    selected = Counter()
    filled_in: dict[tuple[str, int], int] = {}
    for v in verdicts:
        key = (str(v.declaration["office_id"]), event_day(int(v.declaration["filed_at"])))
        if key[1] == first_day:
            assert v.granted.reason is None, "prior cuts (no volume yet): no cap"
            continue
        cap = v.thresholds.caps[Action.SCAN]
        epoch = int(v.declaration["filed_at"]) // config.epoch_ms
        if v.action is Action.SCAN:
            selected[key] += 1
            if v.random_action is not Action.SCAN:  # the control sample is never refused
                assert epoch == filled_in.get(key, epoch), "a SCAN after the epoch that filled the lane"
            if selected[key] >= cap:
                filled_in.setdefault(key, epoch)
        elif v.granted.reason is not None and capped_ask(v.granted.reason)[1] is Action.SCAN:
            assert selected[key] >= cap
    assert filled_in, "the rule asks for every container: the cap binds"
    later = [v for v in verdicts if event_day(int(v.declaration["filed_at"])) > first_day]
    wanted = sum(v.rules.floor is Action.SCAN and v.risk_action < Action.SCAN for v in later)
    granted = sum(v.granted.floor is Action.SCAN and v.risk_action < Action.SCAN for v in later)
    refused = sum(v.granted.reason is not None and capped_ask(v.granted.reason)[0] == "rules" for v in later)
    assert granted + refused == wanted and granted < wanted / 5, (granted, wanted)
    again = run_with_rules(hist, seed_order=3)
    assert sorted(v.record(0)["decision_id"] for v in verdicts) == sorted(v.record(0)["decision_id"] for v in again)
    in_records = [r for v in verdicts for r in v.record(0)["reasons"] if capped_ask(r)]
    assert len(in_records) == sum(v.granted.reason is not None for v in verdicts)


def test_a_physical_exam_the_cap_refused_is_not_forced_again_after_the_scan():
    exam_every_container = parse_rules(
        "rules: [{id: exam-all, description: every container, when: ['container_count >= 1'], action: PHYSICAL_EXAM}]",
        "inline")
    config = EngineConfig()
    engine = DecisionEngine(SharedState(config), HashScorer(), lambda: exam_every_container)
    past = History(declarations=history(days=2, per_day=300, seed=22)["declarations"], inspections=[])
    verdicts = [v for epoch, decls, insps, _ in timeline(past, config.epoch_ms) for v in engine.run_epoch(epoch, decls, insps)]
    refused_to_scan = [v for v in verdicts if v.granted.reason is not None and v.action is Action.SCAN]
    assert refused_to_scan and all(capped_ask(v.granted.reason) == ("rules", Action.PHYSICAL_EXAM) for v in refused_to_scan)
    assert {opening(v, config)["rule_floor"] for v in refused_to_scan} == {None}, "POST_SCAN must not force the exam back"
