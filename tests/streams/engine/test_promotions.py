"""Which model serves a declaration filed at t, and whether the record that decides it is known (pure)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zeikan.streams.engine.learner import Learner, with_promotions
from zeikan.streams.engine.promotions import DAY_MS, PromotionBook, Schedule
from zeikan.errors import InvalidSetting
from zeikan.models.continuous import ContinuousSettings

HOUR = 3_600_000
T0 = 1_709_251_200_000  # a midnight UTC
BASE = "heuristic-1"


def record(day: int, promoted: bool, schedule: Schedule = Schedule()) -> dict:
    boundary = T0 + day * DAY_MS
    return {"boundary": boundary, "effective_from": boundary + schedule.delay_ms, "promoted": promoted,
            "candidate": f"m{day}" if promoted else None}


def book(schedule: Schedule = Schedule(), first_event: int = T0 + 5 * HOUR) -> PromotionBook:
    out = PromotionBook(schedule, BASE)
    out.observe(first_event)
    return out


def test_the_origin_is_the_first_midnight_after_the_earliest_event() -> None:
    assert Schedule.origin(T0) == T0 + DAY_MS
    assert Schedule.origin(T0 + DAY_MS - 1) == T0 + DAY_MS
    b = book(first_event=T0 + 10 * HOUR)
    b.observe(T0 + 20 * HOUR)
    assert b.origin == T0 + DAY_MS
    b.observe(T0 - 1)
    assert b.origin == T0


def test_a_promotion_serves_from_its_effective_time_only() -> None:
    b = book()
    b.add(record(1, True))
    assert b.serving(T0 + 2 * DAY_MS - 1) == BASE
    assert b.serving(T0 + 2 * DAY_MS) == "m1"


def test_a_record_that_is_not_promoted_leaves_the_serving_model() -> None:
    b = book()
    for day, promoted in ((1, True), (2, False), (3, True), (4, False)):
        b.add(record(day, promoted))
    assert [b.serving(T0 + d * DAY_MS) for d in range(1, 7)] == [BASE, "m1", "m1", "m3", "m3", "m3"]


def test_the_champion_is_the_latest_promotion_decided_before_the_boundary_even_if_not_in_effect_yet() -> None:
    b = book(Schedule(delay_ms=3 * DAY_MS))
    b.add(record(1, True, Schedule(delay_ms=3 * DAY_MS)))
    assert b.champion(T0 + DAY_MS) == BASE
    assert b.champion(T0 + 2 * DAY_MS) == "m1"
    assert b.serving(T0 + 2 * DAY_MS) == BASE


def test_a_declaration_waits_until_every_record_in_effect_at_its_filing_time_is_known() -> None:
    b = book()
    t = T0 + 3 * DAY_MS + HOUR  # boundaries day 1 and day 2 are in effect at t
    assert b.covers(T0 + 2 * DAY_MS - 1)  # before the first decision takes effect: nothing to wait for
    assert not b.covers(t)
    b.add(record(2, True))
    assert not b.covers(t), "day 1's record is missing: day 2's alone does not decide the model"
    b.add(record(1, False))
    assert b.covers(t) and b.serving(t) == "m2"
    assert not b.covers(T0 + 4 * DAY_MS)


def test_before_any_event_nothing_can_be_in_effect() -> None:
    b = PromotionBook(Schedule(), BASE)
    assert b.covers(T0 + 100 * DAY_MS) and b.serving(T0 + 100 * DAY_MS) == BASE


def test_a_duplicate_record_is_ignored() -> None:
    b = book()
    assert b.add(record(1, True))
    assert not b.add(record(1, False))
    assert b.serving(T0 + 2 * DAY_MS) == "m1"


def test_boundaries_every_n_days_with_zero_delay() -> None:
    schedule = Schedule(every_days=2, delay_ms=0)
    b = book(schedule)
    assert list(schedule.boundaries(T0 + DAY_MS, T0 + 6 * DAY_MS)) == [T0 + d * DAY_MS for d in (1, 3, 5)]
    assert b.covers(T0 + DAY_MS - 1) and not b.covers(T0 + DAY_MS)
    b.add(record(1, True, schedule))
    assert b.covers(T0 + 3 * DAY_MS - 1) and b.serving(T0 + DAY_MS) == "m1" and not b.covers(T0 + 3 * DAY_MS)


def test_a_bad_schedule_is_refused() -> None:
    with pytest.raises(ValueError):
        Schedule(every_days=0)
    with pytest.raises(ValueError):
        Schedule(delay_ms=-1)


@given(st.lists(st.booleans(), min_size=1, max_size=12), st.randoms(use_true_random=False),
       st.integers(0, 3 * DAY_MS), st.integers(0, 15 * DAY_MS))
def test_the_choice_does_not_depend_on_the_order_records_arrive_in(flags, rnd, delay, offset) -> None:
    schedule = Schedule(delay_ms=delay)
    records = [record(day + 1, promoted, schedule) for day, promoted in enumerate(flags)]
    ordered, shuffled = book(schedule), book(schedule)
    for r in records:
        ordered.add(r)
    for r in rnd.sample(records, len(records)):
        shuffled.add(r)
    t = T0 + offset
    assert ordered.covers(t) == shuffled.covers(t)
    assert ordered.serving(t) == shuffled.serving(t)
    in_effect = [r for r in records if r["effective_from"] <= t and r["promoted"]]
    assert ordered.serving(t) == (in_effect[-1]["candidate"] if in_effect else BASE)


def _decl(n: int, t: int) -> dict:
    from tests.streams.pipeline_factories import declaration

    return declaration(random.Random(n), n, t)


def test_replay_decides_each_boundary_once_before_the_first_epoch_after_it_on_the_events_before_it() -> None:
    learner = Learner(ContinuousSettings(train_days=2), PromotionBook(Schedule(), BASE))
    decls = [_decl(n, T0 + n * 7 * HOUR) for n in range(12)]  # 0 h .. 77 h
    epochs = [(d["filed_at"] // HOUR, [d], [], []) for d in decls]
    seen: list[tuple[int, list[str]]] = []

    def decide(window):
        seen.append((window.boundary, sorted(d["declaration_id"] for d in window.decoded(2)[0])))
        return {"boundary": window.boundary, "effective_from": window.boundary + DAY_MS, "promoted": False,
                "candidate": None}

    yielded = [epoch for epoch, *_ in with_promotions(epochs, learner, HOUR, decide)]
    assert yielded == [e for e, *_ in epochs]
    assert [b for b, _ in seen] == [T0 + DAY_MS, T0 + 2 * DAY_MS, T0 + 3 * DAY_MS]
    before = {b: sorted(d["declaration_id"] for d in decls if b - 2 * DAY_MS <= d["filed_at"] < b) for b, _ in seen}
    assert all(ids == before[b] for b, ids in seen)
    assert learner.buffer.counts()[0] <= 2 * 24 // 7 + 2, "the buffer keeps only the last train_days"


def test_an_epoch_that_does_not_divide_a_day_is_refused() -> None:
    learner = Learner(ContinuousSettings(), PromotionBook(Schedule(), BASE))
    with pytest.raises(InvalidSetting):
        list(with_promotions([], learner, 7 * HOUR, lambda window: {}))
    assert list(with_promotions([], learner, 2 * HOUR, lambda window: {})) == []
