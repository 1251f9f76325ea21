"""The worklist index: risk order per office and lane, paging, filters, stage moves, history, rule statistics."""

from __future__ import annotations

from tests.ui.factories import decision, declaration
from zeikan.schemas.examples import example_record
from zeikan.ui.index import WorklistIndex


def filled(n: int = 30) -> WorklistIndex:
    index = WorklistIndex()
    for k in range(n):
        did = f"D{k:03d}"
        office = "JPYOK" if k % 3 else "JPTYO"
        index.apply("declarations", declaration(did, office, importer_id=f"IMP-{k % 4}", filed_at=1_709_280_000_000 + k))
        index.apply("decisions", decision(did, office, action=("RELEASE", "DOCUMENT_CHECK", "SCAN")[k % 3], risk=(k * 37 % 100) / 100))
    return index


def test_rows_are_the_allowed_offices_selected_lanes_by_falling_risk_and_paged():
    index = filled()
    page = index.worklist({"JPYOK"}, page_size=7)
    everything = [r for p in range(1, page.pages + 1) for r in index.worklist({"JPYOK"}, page=p, page_size=7).rows]
    assert page.total == len(everything) == 20 and page.pages == 3
    assert {r.office_id for r in everything} == {"JPYOK"} and {r.lane for r in everything} == {"DOCUMENT_CHECK", "SCAN"}
    risks = [r.risk for r in everything]
    assert risks == sorted(risks, reverse=True)
    assert [r.lane for r in index.worklist({"JPYOK"}, lane="SCAN").rows] == ["SCAN"] * 10
    assert index.worklist({"JPYOK", "JPTYO"}, office="JPTYO", lane="RELEASE").total == 10
    assert index.worklist({"JPYOK"}, office="JPTYO").total == 0, "an office not allowed stays empty"
    assert {r.declaration.get("importer_id") for r in index.worklist({"JPYOK"}, text="imp-1").rows} == {"IMP-1"}


def test_a_post_scan_decision_moves_the_row_to_its_lane_and_reorders():
    index = filled()
    index.apply("decisions", decision("D001", "JPYOK", action="PHYSICAL_EXAM", risk=0.99, stage="POST_SCAN"))
    assert index.worklist({"JPYOK"}).rows[0].declaration_id == "D001"
    assert [r.declaration_id for r in index.worklist({"JPYOK"}, lane="PHYSICAL_EXAM").rows] == ["D001"]
    assert "D001" not in [r.declaration_id for r in index.worklist({"JPYOK"}, lane="DOCUMENT_CHECK").rows]
    index.apply("decisions", decision("D001", "JPYOK", action="RELEASE", risk=0.1))  # a late PRE_ARRIVAL retry
    assert index.row("D001").lane == "PHYSICAL_EXAM", "the later stage stays current"


def test_history_rule_hits_and_hit_rates_risk_vs_random():
    index = WorklistIndex()
    for k, (random_selected, outcome) in enumerate([(False, "SEIZURE"), (False, "NO_FINDING"), (True, "DISCREPANCY")]):
        did = f"R{k}"
        index.apply("declarations", declaration(did, "JPYOK", importer_id="IMP-9", filed_at=1_709_280_000_000 + k))
        index.apply("decisions", decision(did, "JPYOK", rule_hits=["r1"], random_selected=random_selected))
        result = dict(example_record("inspection-results"), inspection_id=f"I{k}", declaration_id=did, outcome=outcome)
        index.apply("inspection-results", result)
        index.apply("inspection-results", result)  # replayed: counts once
    stats = index.rule_stats()["r1"]
    assert stats.hits == 3 and stats.inspected == {"risk": 2, "random": 1}
    assert (stats.hit_rate("risk"), stats.hit_rate("random")) == (0.5, 1.0)
    case = index.case("R2")
    assert [r.declaration_id for r in case.importer_history] == ["R1", "R0"]
    assert [r.outcomes for r in case.importer_history] == [("NO_FINDING",), ("SEIZURE",)]


def test_what_falls_behind_the_horizon_is_forgotten_everywhere():
    index = WorklistIndex()
    day = 86_400_000
    for k, t in enumerate((0, 1 * day, 20 * day)):
        did = f"H{k}"
        index.apply("declarations", declaration(did, "JPYOK", importer_id="IMP-1", filed_at=1_709_280_000_000 + t))
        index.apply("decisions", decision(did, "JPYOK", rule_hits=["r1"], event_time=1_709_280_000_000 + t))
    assert index.forget_before(index.latest_event_ms - 14 * day) == 2
    assert [r.declaration_id for r in index.worklist({"JPYOK"}).rows] == ["H2"]
    assert index.case("H0") is None and index.rule_stats()["r1"].hits == 1 and index.size() == 1
    assert [r.declaration_id for r in index.case("H2").importer_history] == []
