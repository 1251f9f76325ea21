"""What every agent does the same way: decode + validate a batch, dead-letter failures, send and flush."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from faust.types import EventT, TopicT

from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DEAD_LETTERS
from zeikan.schemas.dead_letters import Source, dead_letter_record
from zeikan.schemas.errors import ValidationError
from zeikan.schemas.limits import DEFAULT_LIMITS, Limits
from zeikan.schemas.validation import validate
from zeikan.streams.hooks import PipelineHooks


def now_ms() -> int:
    """Wall-clock epoch millis."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Decoded:
    """A valid record and the Kafka event it came in."""

    record: dict[str, Any]
    event: EventT


def dead_letter(event: EventT, kind: str, message: str, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The DeadLetter record of ``event``: source position and key, reason, size and sha256 of the raw
    bytes and as much of them as fits ``limits.dead_letter_max_bytes`` (see :mod:`zeikan.schemas.dead_letters`)."""
    msg = event.message
    raw = msg.value if isinstance(msg.value, (bytes, bytearray)) else bytes(str(msg.value), "utf-8")
    key = msg.key if isinstance(msg.key, (bytes, type(None))) else bytes(str(msg.key), "utf-8")
    source = Source(str(msg.topic), int(msg.partition), int(msg.offset), key)
    return dead_letter_record(raw, source, kind, message, failed_at=now_ms(), limits=limits)


class Outbox:
    """Sends records through the app's producer without awaiting each one, then waits for all at once.

    It bypasses ``Topic.send`` (Faust's per-message machinery costs ~0.4 ms a
    record): values that are not bytes are JSON-encoded here.
    """

    def __init__(self, dead_letters: TopicT, hooks: PipelineHooks) -> None:
        self._dead_letters = dead_letters
        self._producer = dead_letters.app.producer
        self._codec = codec_for(DEAD_LETTERS.name)
        self._hooks = hooks
        self._pending: list[asyncio.Future] = []

    async def send(self, topic: TopicT, key: Any, value: Any) -> None:
        """Queue one record (delivery awaited by :meth:`flush`)."""
        if not isinstance(value, (bytes, bytearray)):
            value = json.dumps(value, separators=(",", ":")).encode()
        name = topic.get_topic_name()
        self._pending.append(await self._producer.send(name, key, value, None, None, None))

    async def dead_letter(self, event: EventT, kind: str, message: str) -> None:
        """Queue the dead letter of ``event``."""
        record = dead_letter(event, kind, message)
        self._hooks.on_dead_letter(record["source_topic"], kind)
        await self.send(self._dead_letters, record["source_topic"].encode(), self._codec.encode(record))

    async def flush(self) -> None:
        """Wait until everything queued is acknowledged by the broker (before the batch is acked)."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)


async def decode_batch(events: Sequence[EventT], topic: str, outbox: Outbox, hooks: PipelineHooks) -> list[Decoded]:
    """Decode and validate a batch of raw events; the bad ones go to dead-letters, never stop the batch."""
    codec = codec_for(topic)
    good: list[Decoded] = []
    for event in events:
        try:
            record = codec.decode(event.value)
            validate(topic, record)
        except ValidationError as exc:
            await outbox.dead_letter(event, exc.kind, str(exc))
            continue
        good.append(Decoded(record, event))
    hooks.on_decoded(topic, len(good))
    return good


def put(stream: Any, table: Any, key: str, value: Any, event: EventT) -> None:
    """Write ``table[key]`` as if inside ``event``'s iteration (its changelog partition).

    Batches come from ``take_events``, outside Faust's per-event context; the
    table needs the source event to pick the changelog partition.
    """
    previous = stream.current_event
    stream._set_current_event(event)  # noqa: SLF001 - faust has no public setter
    try:
        table[key] = value
    finally:
        stream._set_current_event(previous)  # noqa: SLF001
