"""The event-time reorderer of the history follower."""

from __future__ import annotations

import random

from zeikan.streams.ordering import EventOrderer


def test_releases_in_global_order_only_when_every_partition_moved_past():
    orderer = EventOrderer(["p0", "p1"])
    orderer.push("p0", (10, 0, "a"), "a", received_at=100)
    orderer.push("p0", (30, 0, "c"), "c", received_at=100)
    assert orderer.pop_ready() == []  # p1 could still deliver something before 10
    orderer.push("p1", (20, 0, "b"), "b", received_at=101)
    assert orderer.pop_ready() == ["a"]  # 20 on p1 > 10; but p0 may still have another event at 30
    orderer.observe("p1", caught_up=True, polled_at=101)
    assert orderer.pop_ready() == []  # not fresher than b's arrival
    orderer.observe("p1", caught_up=True, polled_at=102)
    assert orderer.pop_ready() == ["b"]
    orderer.observe("p0", caught_up=True, polled_at=102)
    assert orderer.pop_ready() == ["c"]


def test_a_stale_caught_up_observation_does_not_release():
    orderer = EventOrderer(["p0", "p1"])
    orderer.observe("p1", caught_up=True, polled_at=50)
    orderer.push("p0", (10, 0, "a"), "a", received_at=60)
    orderer.observe("p0", caught_up=True, polled_at=61)
    assert orderer.pop_ready() == []
    orderer.observe("p1", caught_up=False, polled_at=70)
    assert orderer.pop_ready() == []
    orderer.observe("p1", caught_up=True, polled_at=71)
    assert orderer.pop_ready() == ["a"]


def test_any_interleaving_gives_the_sorted_sequence():
    rng = random.Random(3)
    streams = {p: sorted(rng.sample(range(1000), 40)) for p in range(4)}
    expected = sorted((t, p) for p, times in streams.items() for t in times)
    for _ in range(5):
        orderer = EventOrderer(streams)
        cursors = {p: 0 for p in streams}
        out, clock = [], 0
        while any(cursors[p] < len(streams[p]) for p in streams):
            p = rng.choice([p for p in streams if cursors[p] < len(streams[p])])
            t = streams[p][cursors[p]]
            cursors[p] += 1
            clock += 1
            orderer.push(p, (t, p), (t, p), received_at=clock)
            out += orderer.pop_ready()
        clock += 1
        for p in streams:
            orderer.observe(p, caught_up=True, polled_at=clock)
        out += orderer.pop_ready()
        assert out == expected
