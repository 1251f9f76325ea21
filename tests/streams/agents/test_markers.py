"""Why an idle source partition may or may not close the epochs up to the frontier (pure, no broker)."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from faust.types import TP

from tests.streams.agents.fakes import App, Hooks, event
from zeikan.streams.agents.common import BatchRunner
from zeikan.streams.agents.markers import Markers, _unfetched

TP5 = TP("inspection-results", 5)


@dataclass
class Consumer:
    """aiokafka's view of one partition: the high watermark and time of its last fetch response."""

    highwaters: dict[TP, int] = field(default_factory=dict)
    polled: dict[TP, float] = field(default_factory=dict)

    def highwater(self, tp: TP) -> int | None:
        return self.highwaters.get(tp)

    def last_poll_timestamp(self, tp: TP) -> float | None:
        return self.polled.get(tp)


def test_an_idle_partition_closes_only_after_a_fetch_newer_than_the_frontier_showed_it_done() -> None:
    app = App({TP5})
    runner = BatchRunner(app, Hooks(), "zeikan-facts")  # type: ignore[arg-type]
    consumer = Consumer()
    assert _unfetched(consumer, TP5, 1000.0, runner) == "no fetch response yet"
    consumer.highwaters[TP5], consumer.polled[TP5] = 2, 900.0
    assert _unfetched(consumer, TP5, 1000.0, runner) == "no fetch response since the frontier moved"
    consumer.polled[TP5] = 1100.0
    events = [event("inspection-results", f"I{i}", {}, offset=i) for i in range(2)]
    for e in events:
        e.message.partition = 5
    runner.hold(events)
    reason = _unfetched(consumer, TP5, 1000.0, runner)
    assert reason is not None and reason.startswith("records below the high watermark 2 not done")
    assert "received 2, processed None" in reason
    runner.ack(events)
    assert _unfetched(consumer, TP5, 1000.0, runner) is None


def test_a_revoked_partition_s_queued_marker_is_due_again() -> None:
    """A marker queued in a batch whose delivery failed on a rebalance must not count as sent when the partition
    comes back (the log's marks say what was delivered)."""
    markers = Markers(SimpleNamespace(state=SimpleNamespace(marked={})))  # type: ignore[arg-type]
    outbox = SimpleNamespace(add_fact=lambda fact: None)
    markers.send(outbox, "inspection-results:5", 41)  # type: ignore[arg-type]
    assert not markers.due("inspection-results:5", 41)
    markers.forget({TP5})
    assert markers.due("inspection-results:5", 41)
