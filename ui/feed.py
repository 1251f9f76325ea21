"""The web app's own Kafka side: an aiokafka reader folding the contract topics into the index, and a producer.

The reader assigns every partition of :data:`~zeikan.ui.index.FED_TOPICS` (no consumer
group: every UI replica holds the whole worklist and scales apart from the workers),
reads from the beginning and keeps following. What falls more than the horizon (event
time) behind the newest event is dropped, so the index holds what is live, not the log. Records that do not decode are counted and
skipped (the workers already dead-letter bad input).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from zeikan.schemas.codec import codec_for
from zeikan.schemas.errors import ValidationError
from zeikan.streams.kafka.kafka_io import AIO_PRODUCER_CONFIG, record_key
from zeikan.ui.index import FED_TOPICS, WorklistIndex

log = logging.getLogger(__name__)
FORGET_EVERY = 5000
"""Records read between two passes that drop what fell behind the horizon."""


class Feed:
    """Follows the contract topics into a :class:`WorklistIndex` and publishes the officers' events."""

    def __init__(self, bootstrap: str, index: WorklistIndex, horizon_ms: int = 0) -> None:
        self.bootstrap = bootstrap
        self.index = index
        self.horizon_ms = horizon_ms
        self.forgotten = 0
        self.skipped: Counter[str] = Counter()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect, assign every partition from the beginning and start following."""
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                          auto_offset_reset="earliest", fetch_max_wait_ms=100)
        await self._consumer.start()
        tps = [TopicPartition(topic, p) for topic in FED_TOPICS
               for p in sorted(self._consumer.partitions_for_topic(topic) or ())]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, **AIO_PRODUCER_CONFIG)
        await self._producer.start()
        self._task = asyncio.create_task(self._follow(), name="ui-feed")

    async def _follow(self) -> None:
        assert self._consumer is not None
        since_forget = 0
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            since_forget += sum(len(m) for m in batches.values())
            if self.horizon_ms and since_forget >= FORGET_EVERY:
                self.forgotten += self.index.forget_before(self.index.latest_event_ms - self.horizon_ms)
                since_forget = 0
            for tp, messages in batches.items():
                codec = codec_for(tp.topic)
                for message in messages:
                    try:
                        self.index.apply(tp.topic, codec.decode(message.value))
                    except ValidationError:
                        self.skipped[tp.topic] += 1
                    except (KeyError, TypeError, ValueError):
                        log.exception("%s offset %d: record not indexed", tp, message.offset)
                        self.skipped[tp.topic] += 1

    async def publish(self, topic: str, record: dict[str, Any]) -> None:
        """Encode ``record`` with the contract codec and send it, waiting for the broker's ack."""
        assert self._producer is not None, "feed not started"
        value = codec_for(topic).encode(record)
        await self._producer.send_and_wait(topic, value, record_key(topic, record))

    async def stop(self) -> None:
        """Stop following and close both clients."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for client in (self._consumer, self._producer):
            if client is not None:
                await client.stop()
