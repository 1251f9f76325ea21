"""PRE_ARRIVAL: validate declarations, take the engine's verdict, explain selections, emit decisions.

The verdict comes from the worker's history follower (global, event-time
ordered); this agent only owns its partitions' output. A declaration sent to
SCAN also opens its join: one request per container on the container-keyed
topic and the opening on the declaration-keyed topic.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DECISIONS, DECLARATIONS
from zeikan.streams.agents.common import Outbox, decode_batch, now_ms
from zeikan.streams.engine.core import explained_record
from zeikan.streams.engine.join import scan_request
from zeikan.streams.engine.post_scan import needs_join, opening

if TYPE_CHECKING:
    from zeikan.streams.app import Pipeline


def register(p: Pipeline) -> None:
    """Add the ``decide`` agent."""
    codec = codec_for(DECISIONS.name)
    settings, hooks, topics = p.settings, p.hooks, p.topics

    @p.app.agent(topics.declarations, name="zeikan.decide")
    async def decide(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
            started = time.perf_counter()
            outbox = Outbox(topics.dead_letters, hooks)
            good = await decode_batch(events, DECLARATIONS.name, outbox, hooks)
            verdicts = await p.board.wait_for([d.record["declaration_id"] for d in good], settings.decision_wait_s)
            decided = []
            for item in good:
                verdict = verdicts.get(item.record["declaration_id"])
                if verdict is None:
                    await outbox.dead_letter(
                        item.event, "PROCESSING",
                        f"no verdict within {settings.decision_wait_s:.0f}s: the history follower has not "
                        "reached this declaration (or evicted it; raise ZEIKAN_BOARD_SIZE)",
                    )
                    continue
                try:
                    record = explained_record(verdict, p.engine.scorer, now_ms())
                    payload = codec.encode(record)
                except Exception as exc:  # noqa: BLE001 - one bad record must not stop the batch
                    await outbox.dead_letter(item.event, "PROCESSING", f"decide: {type(exc).__name__}: {exc}")
                    continue
                decided.append(record)
                await outbox.send(topics.decisions, verdict.declaration_id.encode(), payload)
                if needs_join(verdict):
                    opened = opening(verdict, p.config)
                    await outbox.send(topics.declaration_joins, verdict.declaration_id.encode(), {"kind": "open", "opening": opened})
                    request = scan_request(verdict.declaration)
                    for container_id in request["containers"]:
                        await outbox.send(topics.container_events, container_id.encode(), {"kind": "request", "request": request})
            await outbox.flush()
            hooks.on_decisions(decided)
            hooks.on_features([verdicts[d["declaration_id"]].features for d in decided])
            hooks.on_batch_latency("decide", time.perf_counter() - started)
