"""Event time against processing time: implausible times are refused with kind IMPLAUSIBLE_TIME; CONFLICT exists."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zeikan.schemas.admission import admit
from zeikan.schemas.errors import ErrorKind, ValidationError
from zeikan.schemas.examples import example_record
from zeikan.schemas.hostile import HOSTILE_KINDS, YEAR_2099_MS, hostile
from zeikan.schemas.limits import DAY_MS, HOUR_MS, Limits
from zeikan.schemas.plausibility import check_event_time
from zeikan.schemas.validation import DEAD_LETTER_KINDS, validate

NOW = 1_790_000_000_000
"""2026-09-21: the processing time of these tests."""


def _declaration(filed_at: int, lead_ms: int = 72 * HOUR_MS) -> dict:
    record = example_record("declarations")
    record.update(filed_at=filed_at, expected_arrival=filed_at + lead_ms)
    return record


def test_a_declaration_filed_in_2099_is_valid_but_implausible() -> None:
    record = _declaration(YEAR_2099_MS, HOUR_MS)
    validate("declarations", record)
    with pytest.raises(ValidationError, match="filed_at: 2099-12-31T00:00:00Z is .* days after processing time") as caught:
        check_event_time("declarations", record, NOW)
    assert caught.value.kind is ErrorKind.IMPLAUSIBLE_TIME and "\n" not in str(caught.value)


@given(offset_h=st.floats(-24 * 3650 + 1, 24 * 2))
def test_the_future_window_is_the_configured_number_of_hours(offset_h: float) -> None:
    record = _declaration(NOW + int(offset_h * HOUR_MS))
    limits = Limits(max_future_hours=6)
    if offset_h * HOUR_MS > 6 * HOUR_MS:
        with pytest.raises(ValidationError, match="the limit is 6 h"):
            check_event_time("declarations", record, NOW, limits)
    else:
        check_event_time("declarations", record, NOW, limits)


def test_events_far_in_the_past_are_refused_by_the_past_window() -> None:
    old = _declaration(NOW - 40 * DAY_MS)
    check_event_time("declarations", old, NOW)
    with pytest.raises(ValidationError, match="40.0 days before processing time .* the limit is 30 days"):
        check_event_time("declarations", old, NOW, Limits(max_past_days=30))


def test_an_arrival_too_long_after_filing_is_refused() -> None:
    with pytest.raises(ValidationError, match="expected_arrival: .* after filed_at, the limit is 365 days"):
        check_event_time("declarations", _declaration(NOW, 400 * DAY_MS), NOW)


@pytest.mark.parametrize("topic, field", [("scans", "scanned_at"), ("inspection-results", "inspected_at")])
def test_scans_and_inspections_have_the_same_window(topic: str, field: str) -> None:
    record = {**example_record(topic), field: NOW + 2 * DAY_MS}
    with pytest.raises(ValidationError, match=f"{field}: .* after processing time"):
        check_event_time(topic, record, NOW)
    check_event_time(topic, {**record, field: NOW}, NOW)


def test_outputs_are_not_checked_against_processing_time() -> None:
    check_event_time("decisions", {**example_record("decisions"), "event_time": YEAR_2099_MS}, NOW)


@pytest.mark.parametrize("kind", sorted(HOSTILE_KINDS))
def test_every_hostile_kind_is_refused_with_its_expected_kind(kind: str) -> None:
    bad = hostile(kind, serial=3, now_ms=NOW)
    with pytest.raises(ValidationError) as caught:
        admit(bad.topic, bad.value, NOW)
    assert caught.value.kind == bad.expect, str(caught.value)
    assert caught.value.reason and "\n" not in str(caught.value)


def test_conflict_and_every_new_kind_are_dead_letter_kinds() -> None:
    assert {"CONFLICT", "IMPLAUSIBLE_TIME", "LIMIT"} <= DEAD_LETTER_KINDS
    assert ErrorKind("CONFLICT") is ErrorKind.CONFLICT
    record = {**example_record("dead-letters"), "error_kind": "CONFLICT"}
    validate("dead-letters", record)
