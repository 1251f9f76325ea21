"""The batch runner's view of a partition's progress (pure, no broker)."""

from __future__ import annotations

from faust.types import TP

from tests.streams.agents.fakes import App, Hooks, event
from zeikan.streams.agents.common import BatchRunner

TP6 = TP("inspection-results", 6)


def test_a_batch_acked_across_a_rebalance_counts_as_drained_without_new_records() -> None:
    app = App({TP6})
    runner = BatchRunner(app, Hooks(), "zeikan-facts")  # type: ignore[arg-type]
    events = [event("inspection-results", f"I{i}", {}, offset=i) for i in range(3)]
    for e in events:
        e.message.partition = 6
    runner.hold(events)
    runner.forget([TP6])  # revoked while the batch was in flight
    app.consumer._committed_offset[TP6] = 1  # the new assignment's seek read the old commit
    assert not runner.drained(TP6, 3)
    runner.ack(events)  # the batch's outcome delivered after the reassignment
    assert runner.drained(TP6, 3)
    assert not runner.drained(TP6, 4)
