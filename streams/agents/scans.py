"""Scans: admit, dead-letter bad ones, forward valid ones to the container-keyed join topic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faust.types import EventT

from zeikan.schemas.contract import SCANS
from zeikan.streams.agents.common import Outbox
from zeikan.streams.engine.join import ScanArrived, encode_message

if TYPE_CHECKING:
    from zeikan.streams.app import Pipeline


def register(p: Pipeline) -> None:
    """Add the ``scans`` agent."""
    settings, runner, topics = p.settings, p.runner, p.topics

    async def forward(outbox: Outbox, event: EventT) -> bool:
        scan = runner.admit(SCANS.name, event)
        await outbox.send(topics.container_events, str(scan["container_id"]).encode(), encode_message(ScanArrived(scan)))
        return True

    @p.app.agent(topics.scans, name="zeikan.scans")
    async def scans(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
            await runner.run_batch(list(events), SCANS.name, "scans", forward)
