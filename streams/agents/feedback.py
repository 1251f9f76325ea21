"""Feedback: inspection results, deduplicated by inspection_id, counted per lane and selection basis.

Entity history (importer, declarant, HS x origin rates) is updated by every
worker's history follower through the idempotent feature state; this agent owns
the per-partition hit-rate table (``hit-counts``: key ``lane|basis|partition``)
and the ``feedback-seen`` table that makes a replayed result count only once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from zeikan.schemas.contract import INSPECTION_RESULTS
from zeikan.streams.agents.common import Outbox, decode_batch, put

if TYPE_CHECKING:
    from zeikan.streams.app import Pipeline

LANES = {"DOCUMENT": "DOCUMENT_CHECK", "SCAN": "SCAN", "PHYSICAL": "PHYSICAL_EXAM"}
"""inspection_type -> the lane it serves."""


def hit_key(result: dict, partition: int) -> str:
    """Hit-count key of a result: lane, selection basis (random|risk) and source partition."""
    basis = "random" if result.get("random_selected") else "risk"
    return f"{LANES[result['inspection_type']]}|{basis}|{partition}"


def register(p: Pipeline) -> None:
    """Add the ``feedback`` agent."""
    settings, hooks, topics, tables = p.settings, p.hooks, p.topics, p.tables

    @p.app.agent(topics.inspections, name="zeikan.feedback")
    async def feedback(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
            started = time.perf_counter()
            outbox = Outbox(topics.dead_letters, hooks)
            counts: dict[str, tuple[dict, object]] = {}
            for item in await decode_batch(events, INSPECTION_RESULTS.name, outbox, hooks):
                result = item.record
                if tables.feedback_seen.get(result["inspection_id"]) is not None:
                    continue
                put(stream, tables.feedback_seen, result["inspection_id"], {"declaration_id": result["declaration_id"]}, item.event)
                key = hit_key(result, item.event.message.partition)
                entry = counts[key][0] if key in counts else None
                entry = entry or tables.hit_counts.get(key) or {"inspected": 0, "hits": 0}
                entry["inspected"] += 1
                entry["hits"] += int(result["outcome"] != "NO_FINDING")
                counts[key] = (entry, item.event)
                hooks.on_feedback(result)
            for key, (entry, event) in counts.items():
                put(stream, tables.hit_counts, key, entry, event)
            await outbox.flush()
            hooks.on_batch_latency("feedback", time.perf_counter() - started)
