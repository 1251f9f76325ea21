"""Publish throughput: N declaration records through the Avro codec into a broker.

``python -m zeikan.bench.publish [--records 100000] [--client both] [--bootstrap B]``
starts an embedded broker unless ``--bootstrap`` is given, encodes N declarations,
publishes them with kafka-python and/or aiokafka to a fresh topic each, checks that
the topic holds N records, and prints one JSON line per step (records/s, MB/s).
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack

from kafka import KafkaProducer

from zeikan.bench.common import emit, timed
from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DECLARATIONS
from zeikan.schemas.examples import example_record
from zeikan.streams.broker import EmbeddedBroker
from zeikan.streams.kafka_io import AIO_PRODUCER_CONFIG, describe_topics, ensure_topics, publish

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
    """Send ``pairs`` with :func:`zeikan.streams.kafka_io.publish` (aiokafka)."""
    publish(bootstrap, ((topic, value, key) for key, value in pairs))


CLIENTS: dict[str, Callable[[str, str, Encoded], None]] = {
    "kafka-python": publish_kafka_python,
    "aiokafka": publish_aiokafka,
}


def main(argv: Sequence[str] | None = None) -> None:
    """Run the publish bench and print its figures as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--client", choices=[*CLIENTS, "both"], default="both")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--bootstrap", help="use this broker instead of an embedded one")
    args = parser.parse_args(argv)

    with timed() as encoding:
        pairs = encoded_declarations(args.records)
    size = sum(len(key) + len(value) for key, value in pairs)
    emit("publish.encode", records=args.records, seconds=encoding.seconds,
         records_per_s=encoding.rate(args.records), bytes_per_record=size / args.records)  # fmt: skip

    clients = list(CLIENTS) if args.client == "both" else [args.client]
    with ExitStack() as stack:
        bootstrap = args.bootstrap or stack.enter_context(EmbeddedBroker()).bootstrap
        for client in clients:
            topic = f"bench-publish-{client}-{uuid.uuid4().hex[:8]}"
            ensure_topics(bootstrap, [topic], args.partitions)
            with timed() as sending:
                CLIENTS[client](bootstrap, topic, pairs)
            stored = sum(info.messages for info in describe_topics(bootstrap, [topic]))
            emit("publish.send", client=client, records=args.records, stored=stored,
                 partitions=args.partitions, seconds=sending.seconds,
                 records_per_s=sending.rate(args.records),
                 mb_per_s=sending.rate(size) / 1e6)  # fmt: skip


if __name__ == "__main__":
    main()
