"""Publish and consume throughput: N declaration records through the Avro codec into a broker.

``python -m zeikan.bench.publish [--records 100000] [--client both] [--storage both] [--bootstrap B]``
starts an embedded broker per storage mode (``memory``, ``durable``: Tansu on the local
S3 server over a temporary data directory) unless ``--bootstrap`` is given, encodes N
declarations, publishes them with kafka-python and/or aiokafka to a fresh topic each,
checks that the topic holds N records, reads them all back (``kafka_io.read_topic``), and
prints one JSON line per step (records/s, MB/s). With both storages it ends with the
durable/memory ratio of each rate, measured in the same run.
"""

from __future__ import annotations

import argparse
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from kafka import KafkaProducer

from zeikan.bench.common import emit, timed
from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DECLARATIONS
from zeikan.schemas.examples import example_record
from zeikan.streams.kafka.broker import STORAGES, EmbeddedBroker
from zeikan.streams.kafka.kafka_io import AIO_PRODUCER_CONFIG, describe_topics, ensure_topics, publish, read_topic

Encoded = list[tuple[bytes, bytes]]
"""(key, value) pairs ready to send."""


def encoded_declarations(count: int) -> Encoded:
    """``count`` distinct example declarations, Avro-encoded, with their keys."""
    codec = codec_for(DECLARATIONS.name)
    template = example_record(DECLARATIONS.name)
    pairs = []
    for index in range(count):
        template["declaration_id"] = f"DEC-BENCH-{index:09d}"
        pairs.append((template["declaration_id"].encode(), codec.encode(template)))
    return pairs


def publish_kafka_python(bootstrap: str, topic: str, pairs: Encoded) -> None:
    """Send ``pairs`` with kafka-python's KafkaProducer, batching like :func:`publish`."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks=AIO_PRODUCER_CONFIG["acks"],
        linger_ms=AIO_PRODUCER_CONFIG["linger_ms"],
        batch_size=AIO_PRODUCER_CONFIG["max_batch_size"],
        enable_idempotence=False,
    )
    try:
        for key, value in pairs:
            producer.send(topic, value=value, key=key)
        producer.flush()
    finally:
        producer.close()


def publish_aiokafka(bootstrap: str, topic: str, pairs: Encoded) -> None:
    """Send ``pairs`` with :func:`zeikan.streams.kafka.kafka_io.publish` (aiokafka)."""
    publish(bootstrap, ((topic, value, key) for key, value in pairs))


CLIENTS: dict[str, Callable[[str, str, Encoded], None]] = {
    "kafka-python": publish_kafka_python,
    "aiokafka": publish_aiokafka,
}


@contextmanager
def broker_for(storage: str, bootstrap: str | None) -> Iterator[str]:
    """The bootstrap of ``bootstrap`` if given, else of an embedded broker on ``storage`` in a temp dir."""
    if bootstrap:
        yield bootstrap
        return
    with tempfile.TemporaryDirectory(prefix="zeikan-bench-") as tmp:
        log_path = Path(tmp) / "tansu.log"
        with EmbeddedBroker(topics=(), log_path=log_path, storage=storage, data_dir=Path(tmp) / "data") as broker:
            yield broker.bootstrap


def bench_storage(storage: str, bootstrap: str, clients: list[str], pairs: Encoded, partitions: int) -> dict[str, float]:
    """Publish with each client, then consume one topic back; emit the figures, return the rates."""
    records, size = len(pairs), sum(len(key) + len(value) for key, value in pairs)
    rates: dict[str, float] = {}
    topic = ""
    for client in clients:
        topic = f"bench-publish-{client}-{uuid.uuid4().hex[:8]}"
        ensure_topics(bootstrap, [topic], partitions)
        with timed() as sending:
            CLIENTS[client](bootstrap, topic, pairs)
        stored = sum(info.messages for info in describe_topics(bootstrap, [topic]))
        rates[f"publish_{client}"] = sending.rate(records)
        emit("publish.send", storage=storage, client=client, records=records, stored=stored,
             partitions=partitions, seconds=sending.seconds, records_per_s=sending.rate(records),
             mb_per_s=sending.rate(size) / 1e6)  # fmt: skip
    with timed() as reading:
        read = sum(1 for _ in read_topic(bootstrap, topic, from_beginning=True, limit=records, idle_timeout_s=30))
    rates["consume"] = reading.rate(read)
    emit("publish.consume", storage=storage, records=read, seconds=reading.seconds,
         records_per_s=reading.rate(read), mb_per_s=reading.rate(size * read / records) / 1e6)  # fmt: skip
    return rates


def main(argv: Sequence[str] | None = None) -> None:
    """Run the publish bench and print its figures as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--client", choices=[*CLIENTS, "both"], default="both")
    parser.add_argument("--storage", choices=[*STORAGES, "both"], default="both")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--bootstrap", help="use this broker instead of embedded ones (its storage is yours)")
    args = parser.parse_args(argv)

    with timed() as encoding:
        pairs = encoded_declarations(args.records)
    size = sum(len(key) + len(value) for key, value in pairs)
    emit("publish.encode", records=args.records, seconds=encoding.seconds,
         records_per_s=encoding.rate(args.records), bytes_per_record=size / args.records)  # fmt: skip

    clients = list(CLIENTS) if args.client == "both" else [args.client]
    storages = ["external"] if args.bootstrap else list(STORAGES) if args.storage == "both" else [args.storage]
    rates = {}
    for storage in storages:
        with broker_for(storage, args.bootstrap) as bootstrap:
            rates[storage] = bench_storage(storage, bootstrap, clients, pairs, args.partitions)
    if {"memory", "durable"} <= set(rates):
        emit("publish.durable_vs_memory", records=args.records,
             **{f"{name}_ratio": rates["durable"][name] / rates["memory"][name] for name in rates["memory"]})  # fmt: skip


if __name__ == "__main__":
    main()
