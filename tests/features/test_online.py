"""OnlineFeatureState: idempotency, point-in-time, the values of a few hand-checked features."""

from __future__ import annotations

from zeikan.features.base import FeatureState
from zeikan.features.definitions import ASOF_EPOCH_MS, NORM_FEATURES, norm_observations
from zeikan.features.names import FEATURE_NAMES
from zeikan.features.online import OnlineFeatureState

from feature_factories import DAY, T0, make_declaration, make_inspection, make_item


def _history() -> list[tuple[str, dict]]:
    events = []
    for i in range(6):
        events.append(("d", make_declaration(f"D{i}", T0 + i * DAY, items=[make_item(value=str(1000 + 10 * i))])))
    events.append(("i", make_inspection("X1", "D0", T0 + DAY // 2, outcome="SEIZURE")))
    return sorted(events, key=lambda e: e[1].get("filed_at", e[1].get("inspected_at")))


def _run(state: OnlineFeatureState, events: list[tuple[str, dict]]) -> dict[str, dict[str, float]]:
    out = {}
    for kind, event in events:
        if kind == "d":
            out[event["declaration_id"]] = state.features(event)
            state.observe_declaration(event)
        else:
            state.observe_inspection(event)
    return out


def test_implements_the_protocol_and_names_every_feature() -> None:
    state = OnlineFeatureState()
    assert isinstance(state, FeatureState)
    feats = state.features(make_declaration("A", T0))
    assert tuple(feats) == FEATURE_NAMES
    assert all(isinstance(v, float) for v in feats.values())


def test_replayed_events_change_nothing() -> None:
    events = _history()
    once = _run(OnlineFeatureState(), events)
    doubled = [e for e in events for _ in range(2)]
    state = OnlineFeatureState()
    twice = {}
    for kind, event in doubled:
        if kind == "d":
            twice[event["declaration_id"]] = state.features(event)
            state.observe_declaration(event)
        else:
            state.observe_inspection(event)
    assert once == twice


def test_history_counts_and_inspection_attribution() -> None:
    feats = _run(OnlineFeatureState(), _history())
    assert feats["D0"]["imp_log_n"] == 0.0
    assert feats["D3"]["imp_age_days"] == 3.0
    assert feats["D3"]["imp_recency_days"] == 1.0
    assert feats["D1"]["imp_insp_n"] == 1.0
    assert feats["D1"]["imp_seiz_rate"] > feats["D0"]["imp_seiz_rate"]
    assert feats["D0"]["new_declarant_importer"] == 1.0
    assert feats["D1"]["new_declarant_importer"] == 0.0


def test_same_time_events_do_not_see_each_other() -> None:
    state = OnlineFeatureState()
    a, b = make_declaration("A", T0), make_declaration("B", T0)
    fa = state.features(a)
    state.observe_declaration(a)
    fb = state.features(b)
    assert fa == fb


def test_undervalued_line_gets_a_negative_z() -> None:
    state = OnlineFeatureState()
    for i in range(10):
        d = make_declaration(f"D{i}", T0 + i, items=[make_item(value=str(1000 + i))])
        state.features(d)
        state.observe_declaration(d)
    cheap = make_declaration("C", T0 + ASOF_EPOCH_MS, items=[make_item(value="100.00"), make_item(value="1000.00", line_no=2)])
    feats = state.features(cheap)
    assert feats["uv_z_hs"] < -10
    assert feats["uv_hist_n"] == 10.0


def test_features_are_taken_as_of_the_start_of_the_epoch() -> None:
    """Events of the declaration's own epoch do not count yet; every event before its start does."""
    state = OnlineFeatureState()
    start = T0 - T0 % ASOF_EPOCH_MS
    earlier, same = make_declaration("E", start - 1), make_declaration("S", start + 1)
    for d in (earlier, same):
        state.features(d)
        state.observe_declaration(d)
    in_epoch = state.features(make_declaration("R", start + 2))["imp_log_n"]
    assert state.features(make_declaration("Q", start + ASOF_EPOCH_MS - 1))["imp_log_n"] == in_epoch > 0.0
    assert state.features(make_declaration("N", start + ASOF_EPOCH_MS))["imp_log_n"] > in_epoch


def test_inspection_before_its_declaration_waits_for_it() -> None:
    """An inspection folded before its (late) declaration counts once the declaration arrives."""
    state = OnlineFeatureState()
    decl = make_declaration("L", T0)
    state.observe_inspection(make_inspection("X", "L", T0 + 2 * ASOF_EPOCH_MS, outcome="SEIZURE"))
    state.advance(T0 + 3 * ASOF_EPOCH_MS)
    assert state.unmatched_inspections == 1
    state.observe_declaration(decl)
    assert state.unmatched_inspections == 0
    assert state.features(make_declaration("M", T0 + 4 * ASOF_EPOCH_MS))["imp_insp_n"] == 1.0


def test_norm_observations_follow_the_norm_feature_order() -> None:
    """The online state aggregates per-line z by position: the order is part of the contract."""
    decl = make_declaration("A", T0, items=[make_item(), make_item(value="7")])
    for line in norm_observations(decl):
        assert [feature for feature, _, _ in line] == list(NORM_FEATURES)


def test_the_declaration_index_keeps_a_digest_and_leaves_with_its_day_past_the_retention() -> None:
    state = OnlineFeatureState(retention_ms=10 * DAY)
    state.observe_declaration(make_declaration("D0", T0, importer="IMP-7"))
    state.advance(T0 + DAY)
    state.note_digest("D0", "abc")
    assert state.declaration_info("D0") == {"importer_id": "IMP-7", "declarant_id": "D1", "origin_country": "CN",
                                            "filed_at": T0, "digest": "abc"}
    state.observe_declaration(make_declaration("D1", T0 + 12 * DAY))
    state.advance(T0 + 13 * DAY)
    assert state.declaration_info("D0") is None and state.declaration_info("D1") is not None
    assert not any("D0" in key or "D0" in str(value) for key, value in state.store.items()), "nothing of D0 is left"


def test_a_declaration_folded_after_its_day_expired_leaves_no_index_entry() -> None:
    """Expiry runs as events are observed, the index is written as they are folded: a backlog folded only after its
    day left the retention must not keep entries that no later expiry would remove."""
    state = OnlineFeatureState(retention_ms=10 * DAY)
    for day in range(30):
        state.observe_declaration(make_declaration(f"D{day}", T0 + day * DAY))
    state.advance(T0 + 31 * DAY)
    kept = sorted(int(key.split("|D")[1]) for key in state.store if key.startswith("decl|"))
    assert kept == list(range(19, 30))
