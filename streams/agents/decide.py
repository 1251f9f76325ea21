"""PRE_ARRIVAL: take the engine's verdict, explain selections, emit decisions; dead-letter bad declarations.

The verdict comes from the worker's history follower (global, event-time
ordered), which also decoded and validated every message: this agent looks up
what the follower read at each offset (a declaration id, or why the message was
rejected) instead of decoding it again, and only owns its partitions' output. A
declaration sent to
SCAN also opens its join: one request per container on the container-keyed
topic and the opening on the declaration-keyed topic.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from faust.types import EventT

from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DECISIONS, DECLARATIONS
from zeikan.streams.agents.common import Outbox, now_ms
from zeikan.streams.board import Rejected, VerdictBoard
from zeikan.streams.engine.core import explained_record
from zeikan.streams.engine.join import scan_request
from zeikan.streams.engine.post_scan import needs_join, opening

if TYPE_CHECKING:
    from zeikan.streams.app import Pipeline


async def declaration_ids(
    events: Sequence[EventT], board: VerdictBoard, outbox: Outbox, wait_s: float
) -> list[tuple[EventT, str]]:
    """(event, declaration id) of the valid messages, as the follower read them; the others are dead-lettered."""
    positions = [(event.message.partition, event.message.offset) for event in events]
    reads = await board.wait_for_reads(positions, wait_s)
    out = []
    for event, position in zip(events, positions):
        outcome = reads.get(position)
        if isinstance(outcome, Rejected):
            await outbox.dead_letter(event, outcome.kind, outcome.message)
        elif outcome is None:
            await outbox.dead_letter(
                event, "PROCESSING", f"the history follower has not read this message within {wait_s:.0f}s (or evicted it; "
                "raise ZEIKAN_BOARD_SIZE)",
            )
        else:
            out.append((event, outcome))
    return out


def register(p: Pipeline) -> None:
    """Add the ``decide`` agent."""
    codec = codec_for(DECISIONS.name)
    settings, hooks, topics = p.settings, p.hooks, p.topics

    @p.app.agent(topics.declarations, name="zeikan.decide")
    async def decide(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_within_s):
            started = time.perf_counter()
            outbox = Outbox(topics.dead_letters, hooks)
            good = await declaration_ids(events, p.board, outbox, settings.decision_wait_s)
            hooks.on_decoded(DECLARATIONS.name, len(good))
            verdicts = await p.board.wait_for([decl_id for _, decl_id in good], settings.decision_wait_s)
            decided = []
            for event, decl_id in good:
                verdict = verdicts.get(decl_id)
                if verdict is None:
                    await outbox.dead_letter(
                        event, "PROCESSING",
                        f"no verdict within {settings.decision_wait_s:.0f}s: the history follower has not "
                        "reached this declaration (or evicted it; raise ZEIKAN_BOARD_SIZE)",
                    )
                    continue
                try:
                    record = explained_record(verdict, p.engine.scorer, now_ms())
                    payload = codec.encode(record)
                except Exception as exc:  # noqa: BLE001 - one bad record must not stop the batch
                    await outbox.dead_letter(event, "PROCESSING", f"decide: {type(exc).__name__}: {exc}")
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
