"""Each agent's step on in-memory inputs, without a broker (fakes in ``tests.streams.agents.fakes``).

What goes in is one batch of events; what comes out is what the agent sent, in order, and
whether it acked the events. The same agents run against the real broker in tests/streams/.
"""

from __future__ import annotations

import asyncio
import random
from types import SimpleNamespace

from faust.types import TP

from zeikan.models.heuristic import HeuristicTabularScorer
from zeikan.models.image_unavailable import UnavailableImageScorer
from zeikan.schemas.codec import codec_for
from zeikan.streams.agents import decide, feedback, join, markers, scans
from zeikan.streams.agents.decide import Decider
from zeikan.streams.agents.markers import Markers
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.core import DecisionEngine
from zeikan.streams.engine.facts import decode_facts, epoch_of
from zeikan.streams.engine.join import (
    DeadlineCheck, Opened, ScanArrived, ScanMatched, ScanRequested, decode_message, encode_message, scan_request,
)
from zeikan.streams.engine.rules import RuleFile
from zeikan.streams.engine.shared_state import SharedState
from tests.streams.agents.fakes import event, pipeline, run_agent
from tests.streams.pipeline_factories import HOUR, T0, declaration, inspection, scan
from zeikan.schemas.reference import make_container_id


C1, C2 = make_container_id("MSKU", 1), make_container_id("MSKU", 2)


def encoded(topic: str, record: dict) -> bytes:
    return codec_for(topic).encode(record)


def test_scans_forwards_a_valid_scan_to_its_container_and_dead_letters_a_bad_one() -> None:
    p = pipeline()
    scans.register(p)
    good = scan(1, C1, T0)
    batch = [event("scans", C1, encoded("scans", good), 0), event("scans", "x", b"not avro", 1)]
    sent = run_agent(p, "zeikan.scans", batch)
    assert [s.topic for s in sent] == ["zeikan-container-events", "dead-letters"]
    assert sent[0].key == C1.encode() and decode_message(sent[0].json()) == ScanArrived(good)
    assert sent[1].record()["error_kind"] == "DECODE"
    assert all(e.acked for e in batch)


def test_feedback_publishes_the_result_as_a_fact_after_closing_the_epoch_before_it() -> None:
    p = pipeline()
    p.markers = Markers(p)
    feedback.register(p)
    rng = random.Random(1)
    result = inspection(rng, declaration(rng, 1, T0), 1, T0 + HOUR)
    batch = [event("inspection-results", "DEC-0000001", encoded("inspection-results", result))]
    sent = run_agent(p, "zeikan.feedback", batch)
    facts = [f for s in sent for f in decode_facts(s.value)]
    epoch = epoch_of(T0 + HOUR, p.config.epoch_ms)
    assert [(f.kind, f.epoch) for f in facts] == [("marker", epoch - 1), ("inspection", epoch)]
    assert facts[1].record["inspection_id"] == "INS-0000001" and batch[0].acked


def test_join_containers_matches_a_request_with_a_later_scan_once() -> None:
    p = pipeline()
    join.register(p)
    decl = declaration(random.Random(2), 1, T0, containers=[C1])
    request, seen = scan_request(decl), scan(1, C1, T0 + HOUR)
    topic = "zeikan-container-events"
    first = run_agent(p, "zeikan.join-containers", [event(topic, C1, encode_message(ScanRequested(request)))])
    assert first == [] and p.tables.containers[C1]["requests"]
    matched = run_agent(p, "zeikan.join-containers", [event(topic, C1, encode_message(ScanArrived(seen)), 1)])
    assert [(s.topic, s.key) for s in matched] == [("zeikan-declaration-joins", b"DEC-0000001")]
    assert decode_message(matched[0].json()) == ScanMatched(C1, seen)
    again = run_agent(p, "zeikan.join-containers", [event(topic, C1, encode_message(ScanArrived(seen)), 2)])
    assert again == [], "a redelivered scan matches nothing new"


def _opening(decl: dict, deadline: int) -> dict:
    return {"declaration_id": decl["declaration_id"], "office_id": decl["office_id"], "filed_at": decl["filed_at"],
            "containers": decl["containers"], "deadline": deadline, "pre_decision_id": "PRE-1", "tabular": 0.4,
            "rules_score": 0.0, "rule_hits": [], "rule_floor": None, "random_selected": False,
            "versions": {"tabular": "t1"}, "declaration": {**decl, "items": []}}


def test_join_declarations_decides_post_scan_once_every_container_is_scanned() -> None:
    p = pipeline(image_scorer=UnavailableImageScorer())
    join.register(p)
    decl = declaration(random.Random(3), 1, T0, containers=[C1])
    topic = "zeikan-declaration-joins"
    opened = run_agent(p, "zeikan.join-declarations", [event(topic, "DEC-0000001", encode_message(Opened(_opening(decl, T0 + 9 * HOUR))))])
    assert opened == []
    seen = scan(1, C1, T0 + HOUR)
    sent = run_agent(p, "zeikan.join-declarations", [event(topic, "DEC-0000001", encode_message(ScanMatched(C1, seen)), 1)])
    assert [s.topic for s in sent] == ["decisions"]
    record = sent[0].record()
    assert record["stage"] == "POST_SCAN" and record["event_time"] == seen["scanned_at"]
    assert record["action"] == EngineConfig().image_review_action.value, "no image score: an analyst reads the image"
    assert p.tables.joins["DEC-0000001"]["done"]


def test_join_declarations_reports_an_overdue_scan_and_dead_letters_a_message_of_the_wrong_kind() -> None:
    p = pipeline(image_scorer=UnavailableImageScorer())
    join.register(p)
    decl = declaration(random.Random(4), 1, T0, containers=[C1, C2])
    topic = "zeikan-declaration-joins"
    run_agent(p, "zeikan.join-declarations", [event(topic, "DEC-0000001", encode_message(Opened(_opening(decl, T0 + HOUR))))])
    sent = run_agent(p, "zeikan.join-declarations", [
        event(topic, "DEC-0000001", encode_message(DeadlineCheck(T0 + 2 * HOUR)), 1),
        event(topic, "DEC-0000002", encode_message(ScanArrived(scan(2, C2, T0))), 2),
    ])
    assert sorted(s.topic for s in sent) == ["dead-letters", "scan-overdue"]
    overdue = next(s for s in sent if s.topic == "scan-overdue").record()
    assert overdue["missing_containers"] == [C1, C2]
    letter = next(s for s in sent if s.topic == "dead-letters").record()
    assert letter["error_kind"] == "PROCESSING" and "ScanArrived" in letter["error_message"]


def _decide_pipeline() -> SimpleNamespace:
    config = EngineConfig()
    state = SharedState(config)
    state.ready_epoch = epoch_of(T0, config.epoch_ms)  # the epochs before T0's are folded
    caught_up = asyncio.Event()
    caught_up.set()
    p = pipeline(config=config, state=state, follower=SimpleNamespace(caught_up=caught_up, advanced=asyncio.Event()),
                 engine=DecisionEngine(state, HeuristicTabularScorer(), lambda: RuleFile(None).book, None))
    p.markers = Markers(p)
    p.decider = Decider(p)
    decide.register(p)
    return p


def test_decide_emits_a_pre_arrival_decision_then_its_fact_and_dead_letters_a_conflicting_refiling() -> None:
    p = _decide_pipeline()
    decl = declaration(random.Random(5), 1, T0)
    sent = run_agent(p, "zeikan.decide", [event("declarations", "DEC-0000001", encoded("declarations", decl))])
    decision = next(s for s in sent if s.topic == "decisions").record()
    assert decision["stage"] == "PRE_ARRIVAL" and decision["declaration_id"] == "DEC-0000001"
    facts = [f for s in sent if s.topic == "zeikan-facts" for f in decode_facts(s.value)]
    assert [f.kind for f in facts if f.kind == "declaration"] == ["declaration"]
    assert [s.topic for s in sent].index("decisions") < [s.topic for s in sent].index("zeikan-facts"), "decision before fact"
    changed = {**decl, "importer_id": "IMP-9999"}
    again = run_agent(p, "zeikan.decide", [event("declarations", "DEC-0000001", encoded("declarations", changed), 1)])
    assert [s.record()["error_kind"] for s in again if s.topic == "dead-letters"] == ["CONFLICT"]
    assert not [s for s in again if s.topic == "decisions"]


def test_markers_close_a_busy_partition_before_its_oldest_waiting_epoch_once() -> None:
    p = pipeline()
    marks = Markers(p)
    tp = TP("declarations", 0)
    decider = SimpleNamespace(max_epoch={tp: 7}, head_epoch=lambda _: 5)
    outbox = p.runner.outbox()
    marks.close_partitions(outbox, decider)
    marks.close_partitions(outbox, decider)
    asyncio.run(outbox.flush())
    sent = p.app.producer.sent
    assert [(f.kind, f.source, f.epoch) for s in sent for f in decode_facts(s.value)] == [("marker", "declarations:0", 4)]
    assert markers.SOURCE_TOPICS == ("declarations", "inspection-results")


def test_the_deadline_timer_checks_each_open_join_past_its_deadline_and_a_restarted_worker_finds_them_in_the_table() -> None:
    p = pipeline(image_scorer=UnavailableImageScorer())
    join.register(p)
    decl = declaration(random.Random(4), 1, T0, containers=[C1])
    opening = _opening(decl, T0 + HOUR)
    run_agent(p, "zeikan.join-declarations", [event("zeikan-declaration-joins", "DEC-0000001", encode_message(Opened(opening)))])
    for worker in (p, pipeline(tables=p.tables)):
        if worker is not p:
            join.register(worker)
        worker.state.clock = int(opening["deadline"]) - 1
        before = len(worker.app.producer.sent)
        asyncio.run(worker.app.agents["zeikan.scan-deadlines"]())
        assert len(worker.app.producer.sent) == before, "nothing is due before the deadline"
        worker.state.clock = int(opening["deadline"]) + 1
        asyncio.run(worker.app.agents["zeikan.scan-deadlines"]())
        sent = worker.app.producer.sent[before:]
        assert [(s.key, decode_message(s.json())) for s in sent] == [(b"DEC-0000001", DeadlineCheck(worker.state.clock))]
