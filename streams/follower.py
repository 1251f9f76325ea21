"""The history follower: every worker's global, event-time-ordered view of the history.

Features need any importer's history and capacity thresholds need every
declaration of an office, so each worker reads *all* partitions of
``declarations`` and ``inspection-results`` with its own assign()-based consumer
(no group, from the beginning), reorders them by event time
(:class:`~zeikan.streams.ordering.EventOrderer`), folds them into the decision
engine and posts every declaration's verdict on the :class:`VerdictBoard`, with
what it read at each declarations offset (an id or a rejection). The Faust agent
that owns a declaration's partition takes both from there instead of decoding the
message a second time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DECLARATIONS, INSPECTION_RESULTS
from zeikan.schemas.errors import ValidationError
from zeikan.schemas.validation import validate
from zeikan.streams.board import Rejected, VerdictBoard
from zeikan.streams.engine.core import DecisionEngine, HistoryEvent, order_key
from zeikan.streams.hooks import PipelineHooks
from zeikan.streams.ordering import EventOrderer

log = logging.getLogger(__name__)

KINDS = {DECLARATIONS.name: "declaration", INSPECTION_RESULTS.name: "inspection"}
"""Topics the follower reads -> the engine's event kind."""

APPLY_CHUNK = 500
"""Most events folded in per step before yielding to the event loop (heartbeats keep going)."""


def now_ms() -> int:
    """Wall-clock epoch millis (the clock aiokafka stamps fetch responses with)."""
    return int(time.time() * 1000)


class HistoryFollower:
    """Reads the global history and keeps the engine and the board current."""

    def __init__(
        self,
        bootstrap: str,
        engine: DecisionEngine,
        board: VerdictBoard,
        hooks: PipelineHooks,
        fetch_wait_ms: int,
        on_rules_check: Callable[[], None] = lambda: None,
    ) -> None:
        self._bootstrap = bootstrap
        self.engine = engine
        self._board = board
        self._hooks = hooks
        self._fetch_wait_ms = fetch_wait_ms
        self._on_rules_check = on_rules_check
        self._codecs = {topic: codec_for(topic) for topic in KINDS}
        self.caught_up = asyncio.Event()
        """Set once the follower has released everything that was in the log at its start."""

    async def run(self) -> None:
        """Follow the history until cancelled."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=self._fetch_wait_ms,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        try:
            await consumer.topics()  # loads cluster metadata, so partitions_for_topic answers
            tps = [TopicPartition(topic, p) for topic in KINDS for p in sorted(consumer.partitions_for_topic(topic) or ())]
            if not tps:
                raise RuntimeError(f"topics {list(KINDS)} do not exist on {self._bootstrap}")
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            next_offset = dict(await consumer.beginning_offsets(tps))
            orderer = EventOrderer(tps)
            await self._loop(consumer, tps, next_offset, orderer)
        finally:
            await consumer.stop()

    async def _loop(
        self,
        consumer: AIOKafkaConsumer,
        tps: list[TopicPartition],
        next_offset: dict[TopicPartition, int],
        orderer: EventOrderer,
    ) -> None:
        while True:
            fetched = await consumer.getmany(timeout_ms=self._fetch_wait_ms, max_records=2000)
            received = now_ms()
            for tp, messages in fetched.items():
                kind = KINDS[tp.topic]
                note = self._board.note_read if kind == "declaration" else None
                for message in messages:
                    next_offset[tp] = message.offset + 1
                    try:
                        record = self._codecs[tp.topic].decode(message.value)
                        validate(tp.topic, record)
                    except ValidationError as exc:
                        if note:  # the owning agent dead-letters it
                            note((tp.partition, message.offset), Rejected(exc.kind, str(exc)))
                        continue
                    if note:
                        note((tp.partition, message.offset), str(record["declaration_id"]))
                    orderer.push(tp, order_key(kind, record), HistoryEvent(kind, record), received)  # type: ignore[arg-type]
            everything_read = True
            for tp in tps:
                highwater = consumer.highwater(tp)
                polled = consumer.last_poll_timestamp(tp)
                caught_up = highwater is not None and next_offset[tp] >= highwater
                everything_read &= caught_up
                if caught_up and polled is not None:
                    orderer.observe(tp, True, polled)
            self._on_rules_check()
            while ready := orderer.pop_ready(APPLY_CHUNK):
                self._board.publish(self.engine.apply(ready))
                await asyncio.sleep(0)
            if everything_read and not len(orderer) and not self.caught_up.is_set():
                self.caught_up.set()
                log.info("history follower caught up (event clock %d)", self.engine.clock)
