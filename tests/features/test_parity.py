"""Online == batch on random histories (hypothesis), and no leakage from later events."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from zeikan.features.batch import batch_features
from zeikan.features.names import FEATURE_NAMES
from zeikan.features.online import OnlineFeatureState

from feature_factories import T0, make_declaration, make_inspection, make_item

HOUR = 3_600_000

items = st.builds(
    make_item,
    hs=st.sampled_from(["85171200", "85171290", "61091000", "64039900", "64029900", "72085100"]),
    value=st.sampled_from(["100.00", "250.50", "1000.00", "999.99", "40.00", "5000.00"]),
    qty=st.sampled_from([1.0, 2.0, 5.0, 10.0]),
    kg=st.sampled_from([0.5, 10.0, 12.3, 100.0]),
    desc=st.sampled_from(["phones", "Mobile  phones", "t-shirts"]),
    unit=st.sampled_from(["PCE", "KGM"]),
)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[dict], list[dict]]:
    """Small histories with time ties, shared entities and inspections (some invalid)."""
    n = draw(st.integers(1, 14))
    decls = []
    for i in range(n):
        t = T0 + draw(st.integers(0, 12)) * HOUR
        decls.append(make_declaration(
            f"D{i}", t,
            importer=draw(st.sampled_from(["I1", "I2", "I3"])),
            declarant=draw(st.sampled_from(["K1", "K2"])),
            origin=draw(st.sampled_from(["CN", "VN"])),
            dispatch=draw(st.sampled_from(["CN", "AE"])),
            office=draw(st.sampled_from(["O1", "O2"])),
            items=[dict(it, line_no=j + 1) for j, it in enumerate(draw(st.lists(items, min_size=1, max_size=3)))],
            lead_ms=draw(st.integers(-2, 48)) * HOUR,
            mode=draw(st.sampled_from(["SEA", "AIR"])),
        ))
    insps = []
    for j in range(draw(st.integers(0, 10))):
        target = draw(st.sampled_from(decls))
        t = target["filed_at"] + draw(st.integers(-1, 8)) * HOUR
        outcome = draw(st.sampled_from(["NO_FINDING", "DISCREPANCY", "SEIZURE"]))
        insps.append(make_inspection(f"X{j}", target["declaration_id"], t, outcome=outcome))
    return decls, insps


SMALL_WINDOW = 3
"""Norm window used by the parity test so that eviction from the rolling window is exercised."""


def run_online(decls: list[dict], insps: list[dict], tie_order: list[int] | None = None,
               window: int = SMALL_WINDOW) -> dict[str, dict[str, float]]:
    """Feed events in time order (ties in the given order) as the stream does."""
    events = [("d", d["filed_at"], d) for d in decls] + [("i", r["inspected_at"], r) for r in insps]
    ties = tie_order or [0] * len(events)
    order = sorted(range(len(events)), key=lambda k: (events[k][1], ties[k % len(ties)], k))
    state, out = OnlineFeatureState(window=window), {}
    for k in order:
        kind, _, event = events[k]
        if kind == "d":
            out[event["declaration_id"]] = state.features(event)
            state.observe_declaration(event)
        else:
            state.observe_inspection(event)
    return out


def run_batch(decls: list[dict], insps: list[dict], window: int = SMALL_WINDOW) -> dict[str, dict[str, float]]:
    frame = batch_features(decls, insps, window=window)
    return {row["declaration_id"]: {n: row[n] for n in FEATURE_NAMES} for row in frame.iter_rows(named=True)}


def assert_same(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> None:
    assert a.keys() == b.keys()
    for decl_id, feats in a.items():
        for name in FEATURE_NAMES:
            assert math.isclose(feats[name], b[decl_id][name], rel_tol=1e-9, abs_tol=1e-9), (decl_id, name, feats[name], b[decl_id][name])


@settings(max_examples=60, deadline=None)
@given(histories(), st.lists(st.integers(0, 5), min_size=1, max_size=30))
def test_online_equals_batch(history: tuple[list[dict], list[dict]], tie_order: list[int]) -> None:
    decls, insps = history
    assert_same(run_online(decls, insps, tie_order), run_batch(decls, insps))
    assert_same(run_online(decls, insps, tie_order, window=24), run_batch(decls, insps, window=24))


@settings(max_examples=40, deadline=None)
@given(histories(), st.integers(0, 12))
def test_later_events_never_change_a_feature(history: tuple[list[dict], list[dict]], cut_hours: int) -> None:
    decls, insps = history
    cut = T0 + cut_hours * HOUR
    early_decls = [d for d in decls if d["filed_at"] <= cut]
    early_insps = [r for r in insps if r["inspected_at"] <= cut]
    for run in (run_batch, run_online):
        full = run(decls, insps)
        early = run(early_decls, early_insps)
        assert_same(early, {k: full[k] for k in early})


def test_inspection_at_filing_time_counts_only_for_later_declarations() -> None:
    a, b, c = (make_declaration(x, T0 + k * HOUR) for k, x in enumerate("ABC"))
    hit = make_inspection("X", "A", T0 + HOUR, outcome="SEIZURE")
    for run in (run_batch, run_online):
        feats = run([a, b, c], [hit])
        assert feats["B"]["imp_insp_n"] == 0.0
        assert feats["C"]["imp_insp_n"] == 1.0
        assert feats["C"]["dcl_peer_seizures"] == 1.0
