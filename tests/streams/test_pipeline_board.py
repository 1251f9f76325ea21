"""The verdict board's read index and the feedback tally (pure parts of the live pipeline)."""

from __future__ import annotations

import asyncio

from zeikan.streams.agents.feedback import hit_rates, tally
from zeikan.streams.board import Rejected, VerdictBoard


def test_a_read_noted_later_wakes_its_waiter_and_unknown_positions_are_missing() -> None:
    async def scenario() -> dict:
        board = VerdictBoard(capacity=10)
        board.note_read((0, 1), "DEC-1")
        waiting = asyncio.ensure_future(board.wait_for_reads([(0, 1), (3, 7), (5, 5)], timeout_s=0.5))
        await asyncio.sleep(0.01)
        board.note_read((3, 7), Rejected("SCHEMA", "bad field"))
        return await waiting

    assert asyncio.run(scenario()) == {(0, 1): "DEC-1", (3, 7): Rejected("SCHEMA", "bad field")}


def test_the_oldest_reads_are_evicted_beyond_capacity() -> None:
    async def scenario() -> dict:
        board = VerdictBoard(capacity=2)
        for offset in range(3):
            board.note_read((0, offset), f"DEC-{offset}")
        return await board.wait_for_reads([(0, 0), (0, 1), (0, 2)], timeout_s=0.01)

    assert asyncio.run(scenario()) == {(0, 1): "DEC-1", (0, 2): "DEC-2"}


def test_hit_rates_count_each_tallied_result_once_per_lane_and_basis() -> None:
    results = [
        {"declaration_id": "D1", "inspection_type": "SCAN", "random_selected": False, "outcome": "NO_FINDING"},
        {"declaration_id": "D2", "inspection_type": "SCAN", "random_selected": False, "outcome": "UNDERVALUATION"},
        {"declaration_id": "D3", "inspection_type": "DOCUMENT", "random_selected": True, "outcome": "NO_FINDING"},
    ]
    table = {f"I{i}": tally(r) for i, r in enumerate(results)}
    table["I1"] = tally(results[1])  # a replayed result overwrites its own entry
    assert hit_rates([*table.values(), None]) == {
        "SCAN|risk": {"inspected": 2, "hits": 1},
        "DOCUMENT_CHECK|random": {"inspected": 1, "hits": 0},
    }
