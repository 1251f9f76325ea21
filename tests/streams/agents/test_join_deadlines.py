"""The join tables' due index: the timer reads it instead of walking the whole table (pure)."""

from __future__ import annotations

from zeikan.streams.agents.join import RECHECK_S, DueIndex, container_due_at, join_due_at
from zeikan.streams.engine.join import REQUEST_HORIZON_MS, container_empty_at, expire_container, forget_at, join_kept, new_container_state, new_declaration_state

HORIZON = REQUEST_HORIZON_MS


def _state(partition: int, deadline: int | None, done: bool = False, overdue: bool = False) -> dict:
    state = new_declaration_state()
    opened = {"deadline": deadline, "filed_at": deadline - 10} if deadline is not None else None
    state.update(partition=partition, done=done, overdue=overdue, open=opened)
    return state


def test_the_index_holds_the_joins_of_the_assigned_partitions_and_follows_the_agents_writes() -> None:
    table = [("D1", _state(0, 100)), ("D2", _state(0, 200, done=True)), ("D3", _state(1, 300)), ("D4", _state(2, 400)),
             ("D5", _state(0, 500, overdue=True)), ("D6", _state(0, None))]
    index = DueIndex(join_due_at)
    index.rescan(iter(table), frozenset({0, 1}))
    assert index.of("pending") == {"D1": (0, 100), "D3": (1, 300)} and index.entries == 5
    assert index.of("finished") == {"D2": (0, 190 + HORIZON), "D5": (0, 490 + HORIZON)}, "finished joins wait to be forgotten"
    index.note("D1", _state(0, 100, done=True))
    index.note("D7", _state(1, 700), created=True)
    index.note("D3", _state(1, 300, overdue=True))
    assert index.of("pending") == {"D7": (1, 700)} and index.entries == 6
    index.note("D2", None)
    assert "D2" not in index.of("finished") and index.entries == 5, "a deleted join leaves the index"


def test_a_check_is_sent_once_per_overdue_join_and_again_only_if_it_is_still_pending_later() -> None:
    index = DueIndex(join_due_at)
    index.rescan([("D1", _state(0, 100)), ("D2", _state(0, 900)), ("D3", _state(1, 50))], frozenset({0, 1}))
    assert index.due(clock=500, assigned=frozenset({0}), now=10.0) == ["D1"], "past its deadline, assigned"
    assert index.due(clock=600, assigned=frozenset({0}), now=11.0) == [], "just checked: not again on the next tick"
    assert index.due(clock=1000, assigned=frozenset({0}), now=12.0) == ["D2"]
    index.note("D2", _state(0, 900, overdue=True))
    assert index.due(clock=1000, assigned=frozenset({0, 1}), now=10.0 + RECHECK_S) == ["D1", "D3"], "D1 still pending: checked again"


def test_a_finished_join_is_due_once_its_forget_time_passes_and_an_open_one_only_at_its_deadline() -> None:
    index = DueIndex(join_due_at)
    index.rescan([("D1", _state(0, 100, done=True)), ("D2", _state(0, 10 * HORIZON))], frozenset({0}))
    assert index.due(clock=90 + HORIZON, assigned=frozenset({0}), now=0.0) == [], "not yet past its forget time"
    assert index.due(clock=91 + HORIZON, assigned=frozenset({0}), now=1.0) == ["D1"]
    assert forget_at(_state(0, 100)) is None and forget_at(new_declaration_state()) is None
    assert forget_at(_state(0, 100, overdue=True)) == 90 + REQUEST_HORIZON_MS


def test_a_join_is_kept_until_a_check_passes_its_forget_time_and_never_while_it_knows_nothing() -> None:
    done = _state(0, 100, done=True)
    assert join_kept(done, None) and join_kept(done, 90 + HORIZON)
    assert not join_kept(done, 91 + HORIZON), "checked past its forget time: deleted"
    assert join_kept(_state(0, 100), 10 * HORIZON), "an open join is never forgotten"
    assert not join_kept({**new_declaration_state(), "partition": 0}, 91 + HORIZON), "a check for a deleted join leaves nothing"


def test_a_container_is_due_when_its_last_scan_and_request_can_no_longer_match() -> None:
    lookback = 1_000
    state = new_container_state()
    state["scans"] = {"S1": {"scanned_at": 5_000}, "S2": {"scanned_at": 7_000}}
    state["requests"] = {"D1": {"filed_at": 100}}
    empty_at = container_empty_at(state, lookback)
    assert empty_at == max(8_000, 100 + HORIZON)
    expire_container(state, empty_at, lookback)
    assert state["requests"], "at that time the last of it still counts"
    expire_container(state, empty_at + 1, lookback)
    assert not state["scans"] and not state["requests"] and container_empty_at(state, lookback) is None
    index = DueIndex(container_due_at(lookback))
    index.note("C1", {**new_container_state(), "requests": {"D1": {"filed_at": 100}}, "partition": 3}, created=True)
    assert index.due(clock=101 + HORIZON, assigned=frozenset({3}), now=0.0) == ["C1"] and index.entries == 1
    index.note("C1", None)
    assert index.at == {} and index.entries == 0
