"""Have a freshly started Tansu read every partition's stored end before any client produces.

Tansu 0.6.0 on ``s3://`` keeps each partition's high watermark in an object and caches it
(with its version) on first use. A produce to a partition it has not cached yet starts
from an empty watermark and relies on a conditional write ("create, unless it exists")
failing to learn the stored one. The local S3 server (``rclone serve s3``) ignores
conditional writes, so that produce is written at offset 0 over acknowledged records.
A Fetch on the partition caches the stored watermark first; ListOffsets does not.

:func:`load_stored_ends` sends one Metadata request (every topic) and one Fetch request
(every partition, at an offset past any end, so no record is read) to Tansu's own
listener, and checks that the answer names every partition (probed here: with
``max_wait_time=0`` Tansu 0.6.0 answers at once with no partition at all and caches
nothing; 1 ms is enough). It also tells that Tansu answers, so it doubles as the
readiness probe.
"""

from __future__ import annotations

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.protocol.metadata import MetadataRequest

from zeikan.streams.errors import BrokerUnreachable

PAST_ANY_END = 2**62
"""Fetch offset beyond every partition's end: Tansu looks the watermark up and lists nothing."""


async def load_stored_ends(host: str, port: int, timeout_s: float = 5.0) -> int:
    """Make Tansu at ``host:port`` cache every partition's stored end; return the partition count.

    Raises :class:`~zeikan.streams.errors.BrokerUnreachable` when it does not answer (yet).
    """
    timeout_ms = int(timeout_s * 1000)
    try:
        conn = await create_conn(host, port, client_id="zeikan-stored-ends", request_timeout_ms=timeout_ms)
    except (OSError, KafkaError) as exc:
        raise BrokerUnreachable(f"{host}:{port}", str(exc)) from None
    try:
        metadata = await conn.send(MetadataRequest(topics=None))
        wanted = {(topic[1], partition[1]) for topic in metadata.topics for partition in topic[-1]}
        if wanted:
            fetched = await conn.send(_fetch_past_the_end(wanted))
            missing = wanted - {(topic[0], part[0]) for topic in fetched.topics for part in topic[1]}
            if missing:
                raise BrokerUnreachable(f"{host}:{port}", f"no fetch answer for {len(missing)} partitions")
        return len(wanted)
    except (OSError, KafkaError) as exc:
        raise BrokerUnreachable(f"{host}:{port}", str(exc)) from None
    finally:
        conn.close()


def _fetch_past_the_end(partitions: set[tuple[str, int]]) -> FetchRequest:
    by_topic: dict[str, list[tuple[int, int, int]]] = {}
    for topic, partition in sorted(partitions):
        by_topic.setdefault(topic, []).append((partition, PAST_ANY_END, 1))
    return FetchRequest(max_wait_time=1, min_bytes=0, max_bytes=1, isolation_level=0, topics=list(by_topic.items()))
