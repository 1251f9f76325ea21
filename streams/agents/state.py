"""``GET /zeikan/state``: what this worker knows, for tests, ``zeikan run`` and operators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust

if TYPE_CHECKING:
    from zeikan.streams.app import Pipeline


def hit_rates(pipeline: Pipeline) -> dict[str, dict[str, int]]:
    """Hit counts per ``lane|basis`` summed over this worker's partitions."""
    out: dict[str, dict[str, int]] = {}
    for key, entry in list(pipeline.tables.hit_counts.items()):
        if not entry:
            continue
        lane_basis = key.rsplit("|", 1)[0]
        total = out.setdefault(lane_basis, {"inspected": 0, "hits": 0})
        total["inspected"] += entry["inspected"]
        total["hits"] += entry["hits"]
    return out


def snapshot(pipeline: Pipeline) -> dict[str, Any]:
    """The worker's state summary (JSON-able)."""
    from zeikan.streams.app import feature_digest

    assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in pipeline.app.consumer.assignment())
    return {
        "caught_up": pipeline.follower.caught_up.is_set(),
        "event_clock": pipeline.engine.clock,
        "verdicts": len(pipeline.board),
        "feature_digest": feature_digest(pipeline.engine),
        "rules_version": pipeline.rules.book.version,
        "rules_error": pipeline.rules.last_error,
        "hit_rates": hit_rates(pipeline),
        "assigned": assigned,
    }


def register(p: Pipeline) -> None:
    """Add the ``/zeikan/state`` page."""

    @p.app.page("/zeikan/state")
    async def state_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        return web.json(snapshot(p))
