"""The fetch wait stretches while a lagging reader's polls come back short (Tansu's listing cost)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer, TopicPartition

from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.facts import Fact, encode_facts
from zeikan.streams.engine.shared_state import SharedState
from zeikan.streams.facts_log import FactsFollower
from zeikan.streams.kafka.fetch_wait import EMPTY_POLLS, FetchWait

BATCHES = 15_000
"""One-record batches in the facts partition: past Tansu's listing cost for a 5 ms fetch."""


def test_the_wait_doubles_only_after_short_polls_in_a_row_while_behind_and_never_shrinks() -> None:
    wait = FetchWait(5, ceiling_ms=40, short=4)
    assert not any(wait.observe(0, lag=0) for _ in range(10)), "caught up: nothing to stretch"
    assert not any(wait.observe(32, lag=1000) for _ in range(10)), "full reads while behind"
    assert not any(wait.observe(1, lag=1) for _ in range(10)), "a busy tail: one record, one more behind it"
    steps = [wait.observe(1, lag=1000) for _ in range(EMPTY_POLLS * 4)]
    assert steps == ([False] * (EMPTY_POLLS - 1) + [True]) * 3 + [False] * EMPTY_POLLS
    assert wait.ms == 40, "doubled three times, then held at the ceiling"
    wait.observe(0, lag=0)
    assert wait.ms == 40 and wait.poll_timeout_ms > 2 * wait.ms


async def _fill(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    try:
        pending = []
        for epoch in range(BATCHES):
            batch = producer.create_batch()
            for value, _ in encode_facts([Fact("marker", "declarations:0", epoch)]):
                batch.append(key=None, value=value, timestamp=None)
            pending.append(await producer.send_batch(batch, topic, partition=0))
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def _follow(bootstrap: str, topic: str) -> FactsFollower:
    follower = FactsFollower(bootstrap, topic, SharedState(EngineConfig(), ["declarations:0"]), None, fetch_wait_ms=5)
    task = asyncio.create_task(follower.run())
    try:
        await asyncio.wait_for(follower.caught_up.wait(), 120)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return follower


def test_a_follower_reads_to_the_end_of_a_partition_of_many_small_batches(broker, fresh_topics) -> None:  # type: ignore[no-untyped-def]
    # with its 5 ms wait kept, a fetch at the end of this partition returns nothing, every time
    topic = fresh_topics("facts", partitions=1)["facts"]
    asyncio.run(_fill(broker.bootstrap, topic))
    follower = asyncio.run(_follow(broker.bootstrap, topic))
    assert follower.position == BATCHES and follower.bad_facts == 0
    assert follower.state.frontier() == BATCHES, "every marker folded"
    assert follower.fetch_wait.ms > 5


def test_table_recovery_reads_with_a_wait_of_its_own_that_stretches_on_one_record_a_partition() -> None:
    from types import SimpleNamespace

    from zeikan.streams.kafka.transport import RECOVERY_SHORT_READ, _ConsumerThread

    thread = object.__new__(_ConsumerThread)
    thread.transport = SimpleNamespace(app=SimpleNamespace(tables=SimpleNamespace(changelog_topics={"app-t-changelog"})))
    thread._stream_wait, thread._recovery_wait = FetchWait(10, 400), FetchWait(10, 1000, short=RECOVERY_SHORT_READ)
    stream, changelog = TopicPartition("declarations", 0), TopicPartition("app-t-changelog", 3)
    assert thread._wait_for({stream}) is thread._stream_wait
    assert thread._wait_for({changelog, stream}) is thread._recovery_wait
    recovery = thread._recovery_wait
    for _ in range(EMPTY_POLLS):
        recovery.observe(8, lag=20_000)  # one record from each of 8 changelog partitions, far behind
    assert recovery.ms == 20 and thread._stream_wait.ms == 10, "recovery stretched; the agents' wait kept"
