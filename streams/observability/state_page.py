"""``GET /zeikan/state``: what this worker knows, for tests, ``zeikan run`` and operators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import faust

if TYPE_CHECKING:
    from zeikan.streams.app import Pipeline


def snapshot(pipeline: Pipeline) -> dict[str, Any]:
    """The worker's state summary (JSON-able)."""
    state, follower = pipeline.state, pipeline.follower
    assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in pipeline.app.consumer.assignment())
    return {
        "caught_up": follower.caught_up.is_set(),
        "event_clock": state.clock,
        "ready_epoch": state.ready_epoch,
        "facts_offset": follower.position,
        "facts_read": follower.facts_read,
        "unreadable_facts": follower.bad_facts,
        "state_version": state.version,
        "state_digest": state.digest(),
        "late_facts": state.late_facts,
        "unmatched_inspections": state.features.unmatched_inspections,
        "waiting": pipeline.decider.waiting(),
        "partitions": pipeline.decider.describe(),
        "fetch_paused": sorted(f"{tp.topic}:{tp.partition}" for tp in pipeline.decider.gate.paused),
        "fetch_pauses": pipeline.decider.gate.pauses,
        "marked": dict(sorted(state.marked.items())),
        "still_open": pipeline.markers.still_open(),
        "rules_version": pipeline.rules.book.version,
        "rules_error": pipeline.rules.last_error,
        "hit_rates": state.hits,
        "assigned": assigned,
        "learning": pipeline.learner.describe() if pipeline.learner is not None else None,
    }


def register(p: Pipeline) -> None:
    """Add the ``/zeikan/state`` page."""

    @p.app.timer(1.0, name="zeikan.state-metrics")
    async def report_state() -> None:
        state = p.state
        p.hooks.on_shared_state(state.ready_epoch, state.late_facts, state.features.unmatched_inspections, p.follower.position)

    @p.app.page("/zeikan/state")
    async def state_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        return web.json(snapshot(p))
