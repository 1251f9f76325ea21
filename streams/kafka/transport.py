"""Faust's aiokafka transport, adapted to the embedded Tansu broker and to at-least-once restarts.

Four changes to the worker's group consumer, and one to its stream buffers:

* Fetch wait. Faust hard-codes ``fetch_max_wait_ms=1500``. Kafka answers a
  long-poll fetch as soon as data arrives, but Tansu holds it for the whole wait,
  so every record an agent read waited ~0.4 s at the median and up to 1.5 s
  (measured on Tansu: 1500 ms wait -> p50 400 ms / max 750 ms delivery; 5 ms wait
  -> p50 3.5 ms). The consumer waits ``fetch_wait_ms`` instead, stretched while its polls
  come back empty behind the high watermark (:mod:`~zeikan.streams.kafka.fetch_wait`: Tansu
  lists a partition's every batch per fetch and stops at the wait). Table recovery reads the
  changelogs with a wait of its own, stretched while its polls bring back fewer than
  :data:`RECOVERY_SHORT_READ` records with more behind (a changelog of 13,000-26,000 batches a
  partition gave one record per partition a fetch: 13 s of a 1M restart), so a long recovery
  does not leave the agents' fetches stretched afterwards.
* Buffers kept on resume. Faust's flow control empties every stream buffer
  whenever it is resumed, even when it was not suspended. After table recovery it
  resumes the stream partitions, seeks them to their committed offsets and *then*
  resumes the flow, so the records fetched in between were thrown away (measured:
  430-480 buffered records at each restart). Resuming a flow that is not
  suspended now keeps the buffers; a rebalance still empties them when it
  suspends the flow.
* No read-offset filter. Faust drops every fetched message below the offset it
  last delivered for the partition, assuming whatever it delivered was processed;
  the thrown-away records above were then dropped again when re-fetched
  ("DROPPED MESSAGE" right after "Seek stream partitions to committed offsets"),
  never acked, and the commit moved past them (a failing run: every declarations
  partition missed 16-24 consecutive decisions; with this change alone, 3 were
  still lost). The consumer delivers every fetched message instead: a record may
  be delivered twice after a seek, which the at-least-once agents absorb
  (idempotent outputs, deduplicated tables).
* Partitions never committed are sought to their start. Faust's ``getmany`` drops the
  records it fetched for partitions outside the active set it read when the call began;
  a takeover assigns partitions during such a call, so aiokafka's position of a new
  partition can already be past records no agent received. Faust then seeks every
  partition to its committed offset, but aiokafka's seek leaves a partition that was never
  committed (its last owner killed before its first commit) where it is: those
  declarations were never decided (two of 30 runs of the two-worker kill test, the
  survivor's ``still_open`` naming a taken-over partition with nothing received and
  nothing committed). Such partitions now go back to where the ``earliest`` reset puts
  them; what is read again is absorbed as any redelivery.
* True changelog ends. Tansu's ListOffsets(latest) answers the base offset of the
  partition's last record *batch* plus one, so table recovery stopped before the
  last records of a batched changelog write. Highwaters are taken from a fetch of
  the last listed record instead (its response carries the true high watermark),
  by the same :func:`~zeikan.streams.kafka.kafka_io.end_offsets` the CLI uses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from kafka import TopicPartition
from mode.utils.queues import FlowControlEvent

from zeikan.streams.kafka.fetch_wait import CEILING_MS, FetchWait, behind
from zeikan.streams.kafka.kafka_io import end_offsets, kafka_consumer

log = logging.getLogger(__name__)

HIGHWATER_TIMEOUT_S = 10.0
"""Longest wait for the fetch that reads the true high watermarks."""
AGENT_WAIT_CEILING_MS = 400
"""The longest the agents' fetch wait is stretched to: well within Faust's 1 s poll."""
RECOVERY_SHORT_READ = 64
"""Fewer changelog records than this in a poll that leaves at least as many unread is a short
recovery read: Tansu answered about one batch per partition (see :mod:`~zeikan.streams.kafka.fetch_wait`)."""


class _NoReadOffsets(dict):
    """Faust's per-partition read offsets, always unknown: its drain loop then drops nothing."""

    def __getitem__(self, key: Any) -> None:
        return None

    def __setitem__(self, key: Any, value: Any) -> None:
        """Forget it."""

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Forget them."""


async def fetched_highwaters(bootstrap: list[str], listed: Mapping[TP, int]) -> dict[TP, int]:
    """The true end offset of each partition (:func:`~zeikan.streams.kafka.kafka_io.end_offsets`, in a thread)."""
    if not any(listed.values()):
        return dict(listed)
    return await asyncio.to_thread(_true_ends, ",".join(bootstrap), listed)


def _true_ends(bootstrap: str, listed: Mapping[TP, int]) -> dict[TP, int]:
    consumer = kafka_consumer(bootstrap)
    try:
        ends = end_offsets(consumer, [TopicPartition(tp.topic, tp.partition) for tp in listed], HIGHWATER_TIMEOUT_S)
    finally:
        consumer.close()
    return {tp: max(end, ends[TopicPartition(tp.topic, tp.partition)]) for tp, end in listed.items()}


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    _stream_wait: FetchWait | None = None
    _recovery_wait: FetchWait | None = None
    _applied: FetchWait | None = None

    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> Any:
        consumer = super()._create_worker_consumer(transport)
        if self._stream_wait is None:
            floor = transport.fetch_wait_ms  # type: ignore[attr-defined]
            self._stream_wait = FetchWait(floor, AGENT_WAIT_CEILING_MS)
            self._recovery_wait = FetchWait(floor, CEILING_MS, short=RECOVERY_SHORT_READ)
        self._applied = self._stream_wait
        self._stream_wait.apply(consumer)  # read by AIOKafkaConsumer.start() when it builds its fetcher
        return consumer

    def _wait_for(self, active_partitions: Any) -> FetchWait | None:
        """The recovery wait while table changelogs are read (Faust pauses the streams meanwhile), else the agents' wait."""
        changelogs = self.transport.app.tables.changelog_topics
        return self._recovery_wait if any(tp.topic in changelogs for tp in active_partitions) else self._stream_wait

    async def _fetch_records(self, consumer: Any, active_partitions: Any, timeout: float | None = None,
                             max_records: int | None = None) -> Any:
        wait = self._wait_for(active_partitions)
        if wait is not None and wait is not self._applied:
            wait.apply(consumer)  # recovery began or ended: its own wait, stretched apart from the agents' one
            self._applied = wait
        records = await super()._fetch_records(consumer, active_partitions, timeout=timeout, max_records=max_records)
        got = sum(len(batch) for batch in records.values())
        lag = behind(consumer, active_partitions) if wait is not None and got < wait.short else 0  # a full poll is never short
        if wait is not None and wait.observe(got, lag):
            wait.apply(consumer)
            reading = "changelog" if wait is self._recovery_wait else "agents'"
            log.info("%s fetches come back short behind the high watermark; fetch wait now %d ms", reading, wait.ms)
        return records

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Seek every assigned partition to its committed offset, and the stream partitions never committed to where
        the ``earliest``/``latest`` reset puts them."""
        return await self.call_thread(self._seek_to_committed_or_reset)

    async def _seek_to_committed_or_reset(self) -> Mapping[TP, int]:
        app = self.transport.app
        return await seek_to_committed_or_reset(self._ensure_consumer(), app.tables.changelog_topics,  # Faust positions those
                                                latest=app.conf.consumer_auto_offset_reset == "latest")

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        listed = await super()._highwaters(partitions)
        transport = self.transport
        return await fetched_highwaters(faust_aiokafka.server_list(transport.url, transport.default_port), listed)


async def seek_to_committed_or_reset(consumer: Any, skip_topics: Any = (), latest: bool = False) -> Mapping[TP, int]:
    """Seek ``consumer``'s assigned partitions to their committed offsets, and those never committed (outside
    ``skip_topics``) to their start, or end when ``latest``; the committed offsets, as aiokafka's seek returns them."""
    committed = await consumer.seek_to_committed()
    never = [tp for tp, offset in committed.items() if not offset and tp.topic not in skip_topics]
    if never:
        moved = {f"{tp.topic}:{tp.partition}": at for tp in never if (at := _fetch_position(consumer, tp))}
        if moved:
            log.warning("partitions never committed had a fetch position past their start: %s; sought back", moved)
        await (consumer.seek_to_end if latest else consumer.seek_to_beginning)(*never)
    return committed


def _fetch_position(consumer: Any, tp: TP) -> int | None:
    """aiokafka's fetch position of ``tp`` (None while it has none)."""
    state = consumer._subscription.subscription.assignment.state_value(tp)  # noqa: SLF001 - no public sync reader
    return state.position if state is not None and state.has_valid_position else None


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _reset_state(self) -> None:
        super()._reset_state()
        self._read_offset = _NoReadOffsets()


class _FlowControl(FlowControlEvent):
    """Faust's flow control; resuming a flow that is not suspended changes nothing (buffers are kept)."""

    def resume(self) -> None:
        """Resume production into the stream buffers, emptying them only if the flow was suspended."""
        if not self.is_active():
            super().resume()


class ShortFetchTransport(faust_aiokafka.Transport):
    """The aiokafka transport; its group consumer waits at most ``fetch_wait_ms``, drops nothing, recovers to the true ends."""

    Consumer = _Consumer

    def __init__(self, url: Any, app: faust.App, fetch_wait_ms: int) -> None:
        super().__init__(url, app)
        self.fetch_wait_ms = fetch_wait_ms


def install(app: faust.App, fetch_wait_ms: int) -> None:
    """Make ``app`` consume through :class:`ShortFetchTransport` and keep its buffers on resume (call before its topics are created)."""
    app.transport = ShortFetchTransport(app.conf.broker_consumer, app, fetch_wait_ms)
    app.flow_control = _FlowControl()
