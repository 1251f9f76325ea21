"""The office-day cap on rule-forced selections: a lane takes at most its day's capacity of them."""

from __future__ import annotations

import random
from collections import Counter

from tests.streams.engine.test_engine import HashScorer
from tests.streams.pipeline_factories import history
from zeikan.streams.engine.capacity import CapacityTracker, cap_floor, capped_lane, event_day, forced_cap
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.core import DecisionEngine
from zeikan.streams.engine.lanes import Action
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


def test_a_lane_whose_day_cap_is_used_takes_no_more_forced_selections():
    tracker = tracker_with_a_day_of_history()
    cap = forced_cap(SHARES[Action.SCAN] * 400)
    assert cap == 20
    granted_per_epoch = []
    for _epoch in range(5):  # 6 rule-forced SCANs per epoch, each decided on the state as of the epoch's start
        room = tracker.forced_room("JPYOK", 11)
        lanes = [cap_floor(Action.SCAN, ["r1"], Action.RELEASE, room).lane for _ in range(6)]
        granted_per_epoch.append(lanes.count(Action.SCAN))
        for lane in lanes:
            tracker.record("JPYOK", 11, 0.1, Action.RELEASE, lane or Action.RELEASE)
    # 18 granted before the 4th epoch, whose room (2) it shares; after it, none: 24 = cap + 4 (one epoch's excess)
    assert granted_per_epoch == [6, 6, 6, 6, 0]
    room = tracker.forced_room("JPYOK", 11)
    assert room.used[Action.SCAN] == 24 and room.left(Action.SCAN) == 0


def test_forced_selections_of_a_day_stay_within_its_cap_when_they_come_one_epoch_at_a_time():
    tracker = tracker_with_a_day_of_history()
    granted = 0
    for _epoch in range(60):  # one rule-forced PHYSICAL_EXAM per epoch
        lane = cap_floor(Action.PHYSICAL_EXAM, ["r1"], Action.RELEASE, tracker.forced_room("JPYOK", 11)).lane
        granted += lane is Action.PHYSICAL_EXAM
        tracker.record("JPYOK", 11, 0.1, Action.RELEASE, lane or Action.RELEASE)
    assert granted == forced_cap(SHARES[Action.PHYSICAL_EXAM] * 400) == 8


def test_the_overflow_goes_to_the_next_lane_with_room_or_to_the_score_and_says_why():
    tracker = tracker_with_a_day_of_history()
    for _ in range(20):  # the SCAN cap (20) is used
        tracker.record("JPYOK", 11, 0.1, Action.RELEASE, Action.SCAN)
    room = tracker.forced_room("JPYOK", 11)
    down = cap_floor(Action.SCAN, ["container-of-importer-with-findings"], Action.RELEASE, room)
    assert down.lane is Action.DOCUMENT_CHECK
    assert down.reason == (
        "rule container-of-importer-with-findings asked for SCAN; the office's SCAN capacity for the day (20) "
        "was used by selections forced there earlier: sent to DOCUMENT_CHECK instead")
    assert capped_lane(down.reason) is Action.SCAN
    # the model already sends it to DOCUMENT_CHECK: nothing left to force, the score decides
    by_score = cap_floor(Action.SCAN, ["a", "b"], Action.DOCUMENT_CHECK, room)
    assert by_score.lane is None
    assert by_score.reason is not None and by_score.reason.startswith("rules a, b asked for SCAN;")
    assert by_score.reason.endswith("the model's score decides (DOCUMENT_CHECK)")
    for _ in range(32):  # the DOCUMENT_CHECK cap (32) too
        tracker.record("JPYOK", 11, 0.1, Action.RELEASE, Action.DOCUMENT_CHECK)
    released = cap_floor(Action.SCAN, ["r1"], Action.RELEASE, tracker.forced_room("JPYOK", 11))
    assert released.lane is None and released.reason.endswith("the model's score decides (RELEASE)")
    # a lane with room, or a rule asking no more than the model's lane, is untouched
    assert cap_floor(Action.PHYSICAL_EXAM, ["r1"], Action.RELEASE, room).lane is Action.PHYSICAL_EXAM
    assert cap_floor(Action.SCAN, ["r1"], Action.SCAN, room).reason is None
    assert cap_floor(Action.SCAN, ["r1"], Action.RELEASE, None).lane is Action.SCAN, "no history: no cap"


def test_the_cap_is_per_office_day_and_its_count_leaves_with_the_day():
    tracker = tracker_with_a_day_of_history()
    for _ in range(25):
        tracker.record("JPYOK", 11, 0.1, Action.RELEASE, Action.SCAN)
    assert tracker.forced_room("JPYOK", 11).left(Action.SCAN) == 0
    assert tracker.forced_room("JPYOK", 12).used[Action.SCAN] == 0, "a new day starts with its whole cap"
    assert "into" in tracker.snapshot()["JPYOK"]["11"]
    restored = CapacityTracker(EngineConfig())
    restored.restore(tracker.snapshot())
    assert restored.forced_room("JPYOK", 11) == tracker.forced_room("JPYOK", 11)
    window = EngineConfig().window_days
    tracker.thresholds("JPYOK", 11 + window + 1)
    assert "11" not in tracker.snapshot()["JPYOK"], "the day's counts are dropped once outside the window"


def run_with_rules(hist, seed_order: int | None = None):
    config = EngineConfig()
    engine = DecisionEngine(SharedState(config), HashScorer(), lambda: SCAN_EVERY_CONTAINER)
    declarations = list(hist["declarations"])
    if seed_order is not None:
        random.Random(seed_order).shuffle(declarations)
    past = History(declarations=declarations, inspections=hist["inspection-results"])
    return [v for epoch, decls, insps, _ in timeline(past, config.epoch_ms) for v in engine.run_epoch(epoch, decls, insps)]


def test_the_engine_caps_rule_forced_scans_per_office_day_and_stays_deterministic():
    hist = history(days=4, per_day=300, seed=21)
    verdicts = run_with_rules(hist)
    config = EngineConfig()
    first_day = event_day(min(v.declaration["filed_at"] for v in verdicts))
    forced = Counter()
    epochs_after_full: dict[tuple[str, int], list[int]] = {}
    for v in verdicts:
        key = (str(v.declaration["office_id"]), event_day(int(v.declaration["filed_at"])))
        if key[1] == first_day:
            assert v.forced.reason is None, "prior cuts (no volume yet): no cap"
            continue
        cap = forced_cap(v.thresholds.targets[Action.SCAN])
        epoch = int(v.declaration["filed_at"]) // config.epoch_ms
        if v.action is Action.SCAN and v.risk_action < Action.SCAN:  # the rule's, or the random control sample's
            forced[key] += 1
            if v.random_action is not Action.SCAN:
                assert epoch in epochs_after_full.get(key, [epoch]), "a rule-forced SCAN after the epoch that filled the cap"
            if forced[key] >= cap:
                epochs_after_full.setdefault(key, [epoch])
        elif v.forced.reason is not None:
            assert capped_lane(v.forced.reason) is Action.SCAN
            assert forced[key] >= cap and v.action in (Action.DOCUMENT_CHECK, v.risk_action)
    assert epochs_after_full, "the rule asks for every container: the cap binds"
    later = [v for v in verdicts if event_day(int(v.declaration["filed_at"])) > first_day]
    wanted = sum(v.rules.floor is Action.SCAN and v.risk_action < Action.SCAN for v in later)
    granted = sum(v.forced.lane is Action.SCAN and v.risk_action < Action.SCAN for v in later)
    capped = sum(v.forced.reason is not None for v in verdicts)
    assert granted + capped == wanted and granted < wanted / 5, (granted, wanted)
    again = run_with_rules(hist, seed_order=3)
    assert sorted(v.record(0)["decision_id"] for v in verdicts) == sorted(v.record(0)["decision_id"] for v in again)
    capped_reasons = [r for v in verdicts for r in v.record(0)["reasons"] if capped_lane(r)]
    assert len(capped_reasons) == capped


def test_a_physical_exam_the_cap_refused_is_not_forced_again_after_the_scan():
    exam_every_container = parse_rules(
        "rules: [{id: exam-all, description: every container, when: ['container_count >= 1'], action: PHYSICAL_EXAM}]",
        "inline")
    config = EngineConfig()
    engine = DecisionEngine(SharedState(config), HashScorer(), lambda: exam_every_container)
    past = History(declarations=history(days=2, per_day=300, seed=22)["declarations"], inspections=[])
    verdicts = [v for epoch, decls, insps, _ in timeline(past, config.epoch_ms) for v in engine.run_epoch(epoch, decls, insps)]
    moved = [v for v in verdicts if v.forced.lane is Action.SCAN and v.action is Action.SCAN]
    assert moved and all(capped_lane(v.forced.reason) is Action.PHYSICAL_EXAM for v in moved)
    assert {opening(v, config)["rule_floor"] for v in moved} == {"SCAN"}, "POST_SCAN must not force the exam back"
