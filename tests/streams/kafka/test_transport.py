"""The worker's Faust transport: true changelog ends on Tansu, no read-offset filter."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from zeikan.streams.kafka.kafka_io import publish
from zeikan.streams.kafka.transport import _NoReadOffsets, fetched_highwaters


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
