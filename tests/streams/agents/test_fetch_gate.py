"""The decider's fetch gate: pause at ``high`` waiting declarations, resume at half."""

from __future__ import annotations

from faust.types import TP

from zeikan.streams.agents.fetch_gate import FetchGate

A, B = TP("declarations", 0), TP("declarations", 1)


def test_a_partition_is_paused_at_the_limit_and_resumed_only_once_half_of_it_drained() -> None:
    gate = FetchGate(high=10)
    assert gate.changes({A: range(9), B: range(3)}) == (set(), set())
    assert gate.changes({A: range(10), B: range(3)}) == ({A}, set())
    assert gate.changes({A: range(12), B: range(3)}) == (set(), set()), "paused once, not again"
    assert gate.changes({A: range(6), B: range(3)}) == (set(), set()), "above half: still paused"
    assert gate.paused == {A}
    assert gate.changes({A: range(5), B: range(10)}) == ({B}, {A})
    assert gate.changes({B: range(2)}) == (set(), {B}), "a partition no longer queued is resumed"
    assert gate.paused == set() and gate.pauses == 2


def test_a_rebalance_forgets_the_pauses_so_a_long_queue_is_paused_again() -> None:
    gate = FetchGate(high=4)
    gate.changes({A: range(4)})
    gate.reset()
    assert gate.changes({A: range(4)}) == ({A}, set())
