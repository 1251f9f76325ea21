"""The worker's Faust transport: true changelog ends on Tansu, no read-offset filter, never-committed partitions
sought to their start."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from zeikan.streams.kafka.kafka_io import publish
from zeikan.streams.kafka.transport import _NoReadOffsets, fetched_highwaters, seek_to_committed_or_reset


def test_fetched_highwaters_count_every_record_of_a_batched_partition(fresh_topics, broker):
    topic = fresh_topics("batched", partitions=1)["batched"]
    publish(broker.bootstrap, [(topic, b"v%d" % i, b"k") for i in range(50)])  # one producer batch or a few
    tp = TopicPartition(topic, 0)

    async def ends() -> tuple[int, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
        await consumer.start()
        try:
            listed = (await consumer.end_offsets([tp]))[tp]
        finally:
            await consumer.stop()
        return listed, (await fetched_highwaters([broker.bootstrap], {tp: listed}))[tp]

    listed, fetched = asyncio.run(ends())
    assert fetched == 50
    assert listed <= fetched


def test_fetched_highwaters_leave_empty_partitions_alone():
    tp = TopicPartition("nothing-here", 0)
    assert asyncio.run(fetched_highwaters(["127.0.0.1:1"], {tp: 0})) == {tp: 0}


def test_read_offsets_are_never_remembered():
    offsets = _NoReadOffsets()
    offsets["tp"] = 5
    offsets.update({"tp": 7})
    assert offsets["tp"] is None
    assert offsets.pop("tp", None) is None


def test_a_partition_never_committed_is_sought_back_to_its_start_and_a_committed_one_to_its_commit(fresh_topics, broker):
    """aiokafka's own seek leaves a never-committed partition where earlier fetches left it: records a rebalance
    dropped were then never delivered to an agent."""
    topics = fresh_topics("never", "done", partitions=1)
    never, done = TopicPartition(topics["never"], 0), TopicPartition(topics["done"], 0)
    publish(broker.bootstrap, [(t, b"v%d" % i, b"k") for t in topics.values() for i in range(10)])

    async def run() -> tuple[int, int, int, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=f"g-{topics['never']}",
                                    enable_auto_commit=False, auto_offset_reset="earliest", fetch_max_wait_ms=20)
        await consumer.start()
        try:
            consumer.subscribe([never.topic, done.topic])
            read: dict[TopicPartition, int] = {never: 0, done: 0}
            while min(read.values()) < 10:  # fetched, never delivered to an agent
                for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                    read[tp] += len(records)
            await consumer.commit({done: 4})
            before = (await consumer.position(never), await consumer.position(done))
            await seek_to_committed_or_reset(consumer)
            return (*before, await consumer.position(never), await consumer.position(done))
        finally:
            await consumer.stop()

    never_before, done_before, never_after, done_after = asyncio.run(run())
    assert (never_before, done_before) == (10, 10)
    assert never_after == 0, "the never-committed partition is read again from its start"
    assert done_after == 4, "the committed one from its commit"
