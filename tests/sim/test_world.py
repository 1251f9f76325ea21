"""Realism the models depend on: fraud rate, biased legacy policy, containers, scans, relative traces."""

from __future__ import annotations

from collections import Counter
from statistics import median

from zeikan.sim.fraud import KINDS


def _truth(events: dict[str, list[dict]]) -> dict[str, dict]:
    return {t["declaration_id"]: t for t in events["truth"]}


def test_fraud_rate_is_within_bounds(events: dict[str, list[dict]]) -> None:
    rate = sum(t["is_fraud"] for t in events["truth"]) / len(events["truth"])
    assert 0.03 <= rate <= 0.08
    kinds = Counter(k for t in events["truth"] for k in t["fraud_kinds"])
    assert set(kinds) == set(KINDS), "every fraud kind occurs"


def test_truth_is_consistent(events: dict[str, list[dict]]) -> None:
    for t in events["truth"]:
        assert t["is_fraud"] == bool(t["fraud_kinds"])
        assert t["concealment"] == ("CONCEALMENT" in t["fraud_kinds"])
        assert (t["revenue_at_risk"] > 0) == t["is_fraud"] or t["revenue_at_risk"] == 0


def test_fraud_probability_is_the_latent_rate_of_the_draw(events: dict[str, list[dict]]) -> None:
    truth = events["truth"]
    probs = [t["fraud_probability"] for t in truth]
    assert all(0.0 < p < 1.0 for p in probs)
    assert abs(sum(probs) / len(probs) - 0.05) < 0.005, "the intercept solves the mean to the configured rate"
    fraud = [t["fraud_probability"] for t in truth if t["is_fraud"]]
    honest = [t["fraud_probability"] for t in truth if not t["is_fraud"]]
    assert median(fraud) > 1.5 * median(honest), "frauds are drawn where the probability is high"


def test_legacy_policy_is_biased_towards_fraud(events: dict[str, list[dict]]) -> None:
    truth = _truth(events)
    inspected = {r["declaration_id"] for r in events["inspection-results"]}
    fraud = {d for d, t in truth.items() if t["is_fraud"]}
    honest = set(truth) - fraud
    rate_fraud = len(inspected & fraud) / len(fraud)
    rate_honest = len(inspected & honest) / len(honest)
    assert rate_fraud > 1.3 * rate_honest
    assert 0.08 <= len(inspected) / len(truth) <= 0.15


def test_random_share_is_present_and_flagged(events: dict[str, list[dict]]) -> None:
    results = events["inspection-results"]
    random_share = sum(r["random_selected"] for r in results) / len(events["declarations"])
    assert 0.005 <= random_share <= 0.03
    assert Counter(r["inspection_type"] for r in results).keys() == {"DOCUMENT", "SCAN", "PHYSICAL"}


def test_findings_only_on_fraud_and_match_its_kinds(events: dict[str, list[dict]]) -> None:
    truth = _truth(events)
    outcomes = Counter(r["outcome"] for r in events["inspection-results"])
    assert outcomes["DISCREPANCY"] > 0 and outcomes["SEIZURE"] > 0
    for r in events["inspection-results"]:
        kinds = {f["kind"] for f in r["findings"]}
        assert kinds <= set(truth[r["declaration_id"]]["fraud_kinds"])
        assert (r["outcome"] == "NO_FINDING") == (not kinds)
        assert (r["outcome"] == "SEIZURE") == ("CONCEALMENT" in kinds)
        assert r["revenue_recovered"] <= truth[r["declaration_id"]]["revenue_at_risk"] + 0.01


def test_results_come_after_arrival(events: dict[str, list[dict]]) -> None:
    arrival = {d["declaration_id"]: d["expected_arrival"] for d in events["declarations"]}
    assert all(r["inspected_at"] > arrival[r["declaration_id"]] for r in events["inspection-results"])


def test_containers_are_shared_and_spanned(events: dict[str, list[dict]]) -> None:
    per_container = Counter(c for d in events["declarations"] for c in d["containers"])
    assert any(n > 1 for n in per_container.values()), "some containers carry several declarations"
    assert any(len(d["containers"]) > 1 for d in events["declarations"]), "some declarations span containers"
    for d in events["declarations"]:
        if d["transport_mode"] in ("AIR", "POST"):
            assert d["containers"] == []


def test_scans_are_of_declared_containers_and_name_only_their_declarations(events: dict[str, list[dict]]) -> None:
    holders: dict[str, set[str]] = {}
    for d in events["declarations"]:
        for c in d["containers"]:
            holders.setdefault(c, set()).add(d["declaration_id"])
    scans = events["scans"]
    assert any(not s["declaration_ids"] for s in scans), "some scans leave the join to the stream"
    for s in scans:
        assert s["container_id"] in holders
        assert set(s["declaration_ids"]) <= holders[s["container_id"]]
    scanned = {s["container_id"] for s in scans}
    for r in events["inspection-results"]:
        if r["inspection_type"] == "SCAN":
            decl = next(d for d in events["declarations"] if d["declaration_id"] == r["declaration_id"])
            assert set(decl["containers"]) <= scanned


def test_fraud_leaves_relative_traces(events: dict[str, list[dict]]) -> None:
    """Undervalued lines sit below their HS code x origin unit-value norm; honest ones on it."""
    truth = _truth(events)
    unit_values: dict[tuple[str, str], list[float]] = {}
    lines = []
    for d in events["declarations"]:
        kinds = truth[d["declaration_id"]]["fraud_kinds"]
        for item in d["items"]:
            key = (item["hs_code"], d["origin_country"])
            unit_values.setdefault(key, []).append(item["customs_value"] / item["quantity"])
            lines.append((key, item["customs_value"] / item["quantity"], kinds))
    norm = {k: median(v) for k, v in unit_values.items() if len(v) >= 5}
    honest = [uv / norm[k] for k, uv, kinds in lines if k in norm and not kinds]
    undervalued = [uv / norm[k] for k, uv, kinds in lines if k in norm and kinds == ["UNDERVALUATION"]]
    assert 0.85 <= median(honest) <= 1.15
    assert median(undervalued) < 0.8
