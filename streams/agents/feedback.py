"""Feedback: inspection results become facts; every worker's shared state folds them.

The entity history (importer, declarant, HS x origin rates) and the hit rates per
lane and selection basis are folded from the facts log, deduplicated by
``inspection_id``, so a replayed result never counts twice and all workers agree.
This agent admits each result once, publishes it as a fact, closes its partition's
epochs with markers, and only then acks the batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from faust.types import EventT

from zeikan.schemas.contract import INSPECTION_RESULTS
from zeikan.streams.agents.common import Outbox
from zeikan.streams.engine.facts import Fact, epoch_of, source_name

if TYPE_CHECKING:
    from zeikan.streams.app import Pipeline


def register(p: Pipeline) -> None:
    """Add the ``feedback`` agent."""
    settings, runner = p.settings, p.runner

    async def publish(outbox: Outbox, event: EventT) -> bool:
        record = runner.admit(INSPECTION_RESULTS.name, event)
        source = source_name(str(event.message.topic), int(event.message.partition))
        epoch = epoch_of(int(record["inspected_at"]), p.config.epoch_ms)
        if p.markers.due(source, epoch - 1):
            p.markers.send(outbox, source, epoch - 1)
        outbox.add_fact(Fact("inspection", source, epoch, record, raw=bytes(event.message.value)))
        return True

    @p.app.agent(p.topics.inspections, name="zeikan.feedback")
    async def feedback(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
            await runner.run_batch(list(events), INSPECTION_RESULTS.name, "feedback", publish)
