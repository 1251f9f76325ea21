"""The join's deadline index: the timer reads it instead of walking the whole table (pure)."""

from __future__ import annotations

from zeikan.streams.agents.join import RECHECK_S, Deadlines
from zeikan.streams.engine.join import new_declaration_state


def _state(partition: int, deadline: int | None, done: bool = False, overdue: bool = False) -> dict:
    state = new_declaration_state()
    state.update(partition=partition, done=done, overdue=overdue, open={"deadline": deadline} if deadline is not None else None)
    return state


def test_the_index_holds_the_open_joins_of_the_assigned_partitions_and_follows_the_agents_writes() -> None:
    table = [("D1", _state(0, 100)), ("D2", _state(0, 200, done=True)), ("D3", _state(1, 300)), ("D4", _state(2, 400)),
             ("D5", _state(0, 500, overdue=True)), ("D6", _state(0, None))]
    index = Deadlines()
    index.rescan(table, frozenset({0, 1}))
    assert index.pending == {"D1": (0, 100), "D3": (1, 300)} and index.entries == 5
    index.note("D1", _state(0, 100, done=True))
    index.note("D7", _state(1, 700), created=True)
    index.note("D3", _state(1, 300, overdue=True))
    assert index.pending == {"D7": (1, 700)} and index.entries == 6


def test_a_check_is_sent_once_per_overdue_join_and_again_only_if_it_is_still_pending_later() -> None:
    index = Deadlines()
    index.rescan([("D1", _state(0, 100)), ("D2", _state(0, 900)), ("D3", _state(1, 50))], frozenset({0, 1}))
    assert index.due(clock=500, assigned=frozenset({0}), now=10.0) == ["D1"], "past its deadline, assigned"
    assert index.due(clock=600, assigned=frozenset({0}), now=11.0) == [], "just checked: not again on the next tick"
    assert index.due(clock=1000, assigned=frozenset({0}), now=12.0) == ["D2"]
    index.note("D2", _state(0, 900, overdue=True))
    assert index.due(clock=1000, assigned=frozenset({0, 1}), now=10.0 + RECHECK_S) == ["D1", "D3"], "D1 still pending: checked again"
