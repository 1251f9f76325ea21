"""Feedback: inspection results, deduplicated by inspection_id, counted per lane and selection basis.

Entity history (importer, declarant, HS x origin rates) is updated by every
worker's history follower through the idempotent feature state; this agent owns
the ``feedback-seen`` table: one entry per inspection_id holding what the result
counts for (``lane|basis`` and whether it was a hit). Hit rates are sums over that
table, so each result is counted by exactly one changelog record: a worker killed
mid-batch can never leave a result marked seen but not counted (or the reverse),
and a replayed result finds its entry and counts nothing new.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from zeikan.schemas.contract import INSPECTION_RESULTS
from zeikan.streams.agents.common import Outbox, decode_batch, put

if TYPE_CHECKING:
    from zeikan.streams.app import Pipeline

LANES = {"DOCUMENT": "DOCUMENT_CHECK", "SCAN": "SCAN", "PHYSICAL": "PHYSICAL_EXAM"}
"""inspection_type -> the lane it serves."""


def tally(result: dict[str, Any]) -> dict[str, Any]:
    """The ``feedback-seen`` entry of a result: its declaration, ``lane|basis`` (random|risk) and hit."""
    basis = "random" if result.get("random_selected") else "risk"
    return {
        "declaration_id": result["declaration_id"],
        "counts_as": f"{LANES[result['inspection_type']]}|{basis}",
        "hit": result["outcome"] != "NO_FINDING",
    }


def hit_rates(entries: Iterable[dict[str, Any] | None]) -> dict[str, dict[str, int]]:
    """Inspected and hit counts per ``lane|basis`` over ``feedback-seen`` entries."""
    out: dict[str, dict[str, int]] = {}
    for entry in entries:
        if not entry:
            continue
        total = out.setdefault(entry["counts_as"], {"inspected": 0, "hits": 0})
        total["inspected"] += 1
        total["hits"] += int(entry["hit"])
    return out


def register(p: Pipeline) -> None:
    """Add the ``feedback`` agent."""
    settings, hooks, topics, tables = p.settings, p.hooks, p.topics, p.tables

    @p.app.agent(topics.inspections, name="zeikan.feedback")
    async def feedback(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
            started = time.perf_counter()
            outbox = Outbox(topics.dead_letters, hooks)
            for item in await decode_batch(events, INSPECTION_RESULTS.name, outbox, hooks):
                result = item.record
                if tables.feedback_seen.get(result["inspection_id"]) is not None:
                    continue
                put(stream, tables.feedback_seen, result["inspection_id"], tally(result), item.event)
                hooks.on_feedback(result)
            await outbox.flush()
            hooks.on_batch_latency("feedback", time.perf_counter() - started)
