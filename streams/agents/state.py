"""``GET /zeikan/state``: what this worker knows, for tests, ``zeikan run`` and operators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust

from zeikan.streams.agents.feedback import hit_rates

if TYPE_CHECKING:
    from zeikan.streams.app import Pipeline


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
        "hit_rates": hit_rates(list(pipeline.tables.feedback_seen.values())),
        "assigned": assigned,
    }


def register(p: Pipeline) -> None:
    """Add the ``/zeikan/state`` page."""

    @p.app.page("/zeikan/state")
    async def state_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        return web.json(snapshot(p))
