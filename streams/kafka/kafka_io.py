"""Kafka I/O outside the Faust app: topic provisioning, fast publishing, an assign() reader.

Works against the embedded Tansu broker and real Apache Kafka alike. Kafka client
failures to reach a broker become :class:`~zeikan.streams.errors.BrokerUnreachable`.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError as AIOKafkaConnectionError
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaConnectionError, KafkaTimeoutError, TopicAlreadyExistsError

from zeikan.schemas.contract import TOPICS
from zeikan.schemas.errors import UnknownTopic
from zeikan.streams.errors import BrokerUnreachable

CONNECT_TIMEOUT_MS = 5_000
"""How long a client tries to reach the bootstrap brokers before giving up."""

AIO_PRODUCER_CONFIG: dict[str, Any] = {
    "acks": 1,
    "linger_ms": 5,
    "max_batch_size": 256 * 1024,
    "enable_idempotence": False,
}
"""Throughput-oriented aiokafka producer settings (per-partition order holds: aiokafka
keeps one in-flight batch per partition)."""


@dataclass(frozen=True)
class TopicInfo:
    """A topic's partition count and the end offset of each partition."""

    name: str
    end_offsets: tuple[int, ...]

    @property
    def partitions(self) -> int:
        """Number of partitions."""
        return len(self.end_offsets)

    @property
    def messages(self) -> int:
        """Sum of the end offsets (records ever written, for topics never compacted)."""
        return sum(self.end_offsets)


@dataclass(frozen=True)
class ConsumedRecord:
    """One raw record read from a topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int


@contextmanager
def broker_errors(bootstrap: str) -> Iterator[None]:
    """Turn the Kafka client's "cannot reach a broker" errors into :class:`BrokerUnreachable`."""
    try:
        yield
    except (KafkaConnectionError, KafkaTimeoutError) as exc:
        raise BrokerUnreachable(bootstrap, type(exc).__name__) from None


def check_reachable(bootstrap: str) -> None:
    """Raise :class:`BrokerUnreachable` at once when no bootstrap address accepts TCP.

    Clients would otherwise retry for :data:`CONNECT_TIMEOUT_MS` before failing.
    """
    if not any(_accepts_connections(address) for address in bootstrap.split(",")):
        raise BrokerUnreachable(bootstrap, "connection refused")


def _accepts_connections(address: str) -> bool:
    host, _, port = address.strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False


@contextmanager
def admin_client(bootstrap: str) -> Iterator[KafkaAdminClient]:
    """A short-lived admin client; unreachable brokers raise :class:`BrokerUnreachable`."""
    check_reachable(bootstrap)
    with broker_errors(bootstrap):
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="zeikan-admin",
            bootstrap_timeout_ms=CONNECT_TIMEOUT_MS,
            request_timeout_ms=CONNECT_TIMEOUT_MS,
        )
        try:
            yield admin
        finally:
            admin.close()


def list_topic_names(bootstrap: str) -> list[str]:
    """Names of the topics on the cluster, sorted (a metadata round trip)."""
    with admin_client(bootstrap) as admin:
        return sorted(admin.list_topics())


def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int,
    replication: int = 1,
    timeout_s: float = 10.0,
) -> list[str]:
    """Create the topics in ``names`` that do not exist yet; return the ones created.

    Idempotent: existing topics are left as they are (their partition count is not
    changed), and a topic created concurrently by someone else is not an error.
    Returns once every named topic shows up in the cluster metadata.
    """
    wanted = list(dict.fromkeys(names))
    with admin_client(bootstrap) as admin:
        missing = [name for name in wanted if name not in set(admin.list_topics())]
        created = []
        for name in missing:
            try:
                admin.create_topics([NewTopic(name, partitions, replication)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        deadline = time.monotonic() + timeout_s
        while not set(wanted) <= set(admin.list_topics()):
            if time.monotonic() > deadline:
                raise BrokerUnreachable(bootstrap, f"topics {missing} not visible after create")
            time.sleep(0.05)
    return created


def kafka_consumer(bootstrap: str, **config: Any) -> KafkaConsumer:
    """A group-less consumer (no commits, no rebalances): partitions are assigned by hand."""
    check_reachable(bootstrap)
    with broker_errors(bootstrap):
        return KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=100,
            bootstrap_timeout_ms=CONNECT_TIMEOUT_MS,
            request_timeout_ms=max(CONNECT_TIMEOUT_MS, 6_000),
            **config,
        )


def _partitions(consumer: KafkaConsumer, topic: str, known: list[str]) -> list[TopicPartition]:
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise UnknownTopic(topic, known, on_cluster=True)
    return [TopicPartition(topic, p) for p in sorted(partitions)]


def describe_topics(bootstrap: str, names: Iterable[str] | None = None) -> list[TopicInfo]:
    """Partition counts and end offsets of ``names`` (default: every topic), sorted by name."""
    consumer = kafka_consumer(bootstrap)
    try:
        with broker_errors(bootstrap):
            existing = sorted(consumer.topics())
            chosen = sorted(names) if names is not None else existing
            per_topic = {name: _partitions(consumer, name, existing) for name in chosen}
            ends = end_offsets(consumer, [tp for tps in per_topic.values() for tp in tps])
            return [
                TopicInfo(name, tuple(ends[tp] for tp in tps)) for name, tps in per_topic.items()
            ]
    finally:
        consumer.close()


def end_offsets(
    consumer: KafkaConsumer, tps: list[TopicPartition], timeout_s: float = 5.0
) -> dict[TopicPartition, int]:
    """The offset after the last record of each partition, from fetch high watermarks.

    Tansu's ListOffsets(latest) answers the base offset of the last record *batch*
    plus one, so ``consumer.end_offsets`` undercounts when producers batch. Fetching
    the last listed record returns the true high watermark on Tansu and Kafka alike.
    Leaves ``consumer`` assigned to ``tps`` at unspecified positions.
    """
    listed = consumer.end_offsets(tps)
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, max(listed[tp] - 1, 0))
    deadline = time.monotonic() + timeout_s
    pending = {tp for tp in tps if listed[tp] > 0}
    while pending and time.monotonic() < deadline:
        consumer.poll(timeout_ms=100)
        pending = {tp for tp in pending if consumer.highwater(tp) is None}
    return {tp: max(listed[tp], consumer.highwater(tp) or 0) for tp in tps}


def record_key(topic: str, record: dict[str, Any]) -> bytes | None:
    """The Kafka key of ``record`` on a contract ``topic`` (its key field, UTF-8)."""
    value = record.get(TOPICS[topic].key_field)
    if value is None:
        return None
    return value if isinstance(value, bytes) else str(value).encode()


Outgoing = tuple[str, bytes, bytes | None]
"""One record to send: ``(topic, value, key)``, already encoded."""


def publish(
    bootstrap: str,
    messages: Iterable[Outgoing],
    *,
    rate: float | None = None,
    on_sent: Callable[[], None] | None = None,
) -> int:
    """Send ``messages`` in order and wait until every one is acknowledged; return the count.

    The synchronous face of :func:`publish_async` (it runs its own event loop).
    """
    return asyncio.run(publish_async(bootstrap, messages, rate=rate, on_sent=on_sent))


async def publish_async(
    bootstrap: str,
    messages: Iterable[Outgoing],
    *,
    rate: float | None = None,
    on_sent: Callable[[], None] | None = None,
) -> int:
    """Send ``messages`` with a batching aiokafka producer, at most ``rate`` per second.

    ``on_sent`` is called after each record is queued (for progress bars). Returns once
    every record is acknowledged; a delivery failure raises. aiokafka is used because it
    publishes several times faster than kafka-python (see ``bench/publish.py``).
    """
    check_reachable(bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **AIO_PRODUCER_CONFIG)
    try:
        await producer.start()
    except AIOKafkaConnectionError as exc:
        await producer.stop()
        raise BrokerUnreachable(bootstrap, str(exc)) from None
    loop = asyncio.get_running_loop()
    try:
        deliveries = []
        started = loop.time()
        for index, (topic, value, key) in enumerate(messages):
            if rate and (delay := started + index / rate - loop.time()) > 0:
                await asyncio.sleep(delay)
            deliveries.append(await producer.send(topic, value, key))
            if on_sent is not None:
                on_sent()
        await producer.flush()
        await asyncio.gather(*deliveries)
        return len(deliveries)
    finally:
        await producer.stop()


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    from_beginning: bool = False,
    idle_timeout_s: float = 5.0,
    limit: int | None = None,
) -> Iterator[ConsumedRecord]:
    """Yield records of every partition of ``topic`` in arrival order.

    Starts at the beginning or at the current end of each partition (positions are
    fixed before the first record is yielded, so records produced after this call
    started are seen). Stops after ``limit`` records or ``idle_timeout_s`` without one.
    """
    consumer = kafka_consumer(bootstrap, max_poll_records=2_000)
    try:
        with broker_errors(bootstrap):
            tps = _partitions(consumer, topic, sorted(consumer.topics()))
            if from_beginning:
                consumer.assign(tps)
                consumer.seek_to_beginning(*tps)
                for tp in tps:
                    consumer.position(tp)
            else:
                for tp, end in end_offsets(consumer, tps).items():
                    consumer.seek(tp, end)
        yield from _poll(consumer, idle_timeout_s, limit)
    finally:
        consumer.close()


def _poll(consumer: KafkaConsumer, idle_timeout_s: float, limit: int | None) -> Iterator[ConsumedRecord]:
    count = 0
    last_seen = time.monotonic()
    while limit is None or count < limit:
        idle = time.monotonic() - last_seen
        if idle >= idle_timeout_s:
            return
        batches = consumer.poll(timeout_ms=int(min(0.5, idle_timeout_s - idle) * 1000) + 1)
        for messages in batches.values():
            for message in messages:
                yield ConsumedRecord(
                    message.topic,
                    message.partition,
                    message.offset,
                    message.key,
                    message.value,
                    message.timestamp,
                )
                count += 1
                if limit is not None and count >= limit:
                    return
        if batches:
            last_seen = time.monotonic()
