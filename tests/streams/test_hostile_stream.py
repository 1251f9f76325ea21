"""Hostile input against a real worker: no single message may lose data, freeze the state or stop an agent.

Every bad message of every kind in ``zeikan.schemas.hostile`` (random bytes, truncated Avro,
enum -1, 1 MB to 12 MB messages, 540,000 items, the year 2099, ...) is mixed into an
in-order history of good declarations; a conflicting duplicate and a poison record on an
internal topic ride along. Each bad message must get its dead letter with the expected
kind at its exact source position, every good declaration its replay decision, and the
shared state must move past the 2099 declaration.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaProducer

from tests.streams.pipeline_factories import history
from tests.streams.test_reliability import replay_ids
from tests.streams.worker_harness import WorkerProcess, decision_ids_settle, encoded, in_event_time_order, read_decoded, wait_until
from zeikan.schemas.codec import codec_for
from zeikan.schemas.hostile import HOSTILE_KINDS, hostile
from zeikan.streams.agents.common import now_ms
from zeikan.streams.engine.facts import epoch_of

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

Sent = tuple[str, int, int]


async def _send(bootstrap: str, messages: list[tuple[str, bytes | None, bytes]]) -> list[Sent]:
    """Send in order, one at a time; (topic, partition, offset) of each."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=16 * 1024 * 1024, acks=1)
    await producer.start()
    try:
        out = []
        for topic, key, value in messages:
            meta = await producer.send_and_wait(topic, value, key=key)
            out.append((meta.topic, meta.partition, meta.offset))
        return out
    finally:
        await producer.stop()


def test_bad_messages_are_dead_lettered_and_no_good_declaration_is_lost(fresh_broker, tmp_path):
    broker = fresh_broker()
    hist = history(days=2, per_day=120, seed=21)
    expected = replay_ids(tmp_path, hist)
    good = encoded(in_event_time_order(hist, []))
    now = now_ms()
    bad = [hostile(kind, serial, now) for serial, kind in enumerate(sorted(HOSTILE_KINDS))]
    original = hist["declarations"][5]
    conflicting = {**original, "conveyance_ref": "CHANGED"}
    messages: list[tuple[str, bytes | None, bytes]] = []
    expect: dict[int, tuple[str, str]] = {}
    step = max(1, len(good) // (len(bad) + 2))
    for i, (topic, value, key) in enumerate(good):
        messages.append((topic, key, value))
        if i % step == 0 and bad:
            one = bad.pop()
            expect[len(messages)] = (one.kind, one.expect)
            messages.append((one.topic, one.key, one.value))
        if i == len(good) // 2:
            expect[len(messages)] = ("conflicting duplicate", "CONFLICT")
            messages.append(("declarations", original["declaration_id"].encode(), codec_for("declarations").encode(conflicting)))
            expect[len(messages)] = ("poison join record", "PROCESSING")
            messages.append(("zeikan-container-events", b"MSKU0000000", json.dumps({"kind": "scan", "scan": {}}).encode()))
    for one in bad:
        expect[len(messages)] = (one.kind, one.expect)
        messages.append((one.topic, one.key, one.value))
    worker = WorkerProcess(broker.bootstrap, tmp_path / "w")
    try:
        worker.wait_caught_up()
        positions = asyncio.run(_send(broker.bootstrap, messages))
        decisions = decision_ids_settle(broker.bootstrap, expected, 120, worker.log_path, worker)
        wanted = {positions[i]: what for i, what in expect.items()}

        def all_dead_lettered() -> dict | None:
            letters = {(d["source_topic"], d["partition"], d["offset"]): d for d in read_decoded(broker.bootstrap, "dead-letters")}
            return letters if set(wanted) <= set(letters) else None

        letters = wait_until(all_dead_lettered, 60, worker.log_path)
        state = worker.state()
        alive = worker.process.poll() is None
    finally:
        worker.stop()
    assert {d["decision_id"] for d in decisions if d["stage"] == "PRE_ARRIVAL"} == expected, "no good declaration lost"
    wrong = {what: letters[pos]["error_kind"] for pos, what in wanted.items() if letters[pos]["error_kind"] != what[1]}
    assert not wrong, wrong
    assert all(len(codec_for("dead-letters").encode(d)) <= 65_536 for d in letters.values()), "dead letters always fit"
    assert alive, "the worker never crashed"
    last_epoch = max(epoch_of(d["filed_at"]) for d in hist["declarations"])
    assert state["ready_epoch"] >= last_epoch, "the 2099 declaration did not freeze the shared state"
