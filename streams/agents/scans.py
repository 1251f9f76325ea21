"""Scans: validate, dead-letter bad ones, forward valid ones to the container-keyed join topic."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from zeikan.schemas.contract import SCANS
from zeikan.streams.agents.common import Outbox, decode_batch

if TYPE_CHECKING:
    from zeikan.streams.app import Pipeline


def register(p: Pipeline) -> None:
    """Add the ``scans`` agent."""
    settings, hooks, topics = p.settings, p.hooks, p.topics

    @p.app.agent(topics.scans, name="zeikan.scans")
    async def scans(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
            started = time.perf_counter()
            outbox = Outbox(topics.dead_letters, hooks)
            for item in await decode_batch(events, SCANS.name, outbox, hooks):
                scan = item.record
                await outbox.send(topics.container_events, str(scan["container_id"]).encode(), {"kind": "scan", "scan": scan})
            await outbox.flush()
            hooks.on_batch_latency("scans", time.perf_counter() - started)
