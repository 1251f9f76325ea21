"""Live pipeline against a real broker and a real ``zeikan worker``: agreement with replay,
the container join, dead letters, rule hot reload (no mocks)."""

from __future__ import annotations

import copy
import re
import time
import urllib.request
from collections import Counter

import pytest

from tests.streams.pipeline_factories import HOUR, history, scan
from tests.streams.worker_harness import (
    WorkerProcess,
    decision_ids_settle,
    encoded,
    in_event_time_order,
    publish_events,
    read_decoded,
    wait_until,
)
from zeikan.schemas.jsonl import write_jsonl
from zeikan.schemas.reference import make_container_id
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.join import REQUEST_HORIZON_MS
from zeikan.streams.engine.rules import RuleFile
from zeikan.streams.kafka.kafka_io import publish
from zeikan.streams.replay import replay

pytestmark = pytest.mark.timeout(240)

JOIN_IDS = ["DEC-0000034", "DEC-0000031", "DEC-0000032", "DEC-0000033"]
RULES = f"""
version: join-test
rules:
  - id: scan-these
    description: declarations the join test follows
    when: ["declaration_id in [{', '.join(JOIN_IDS)}]"]
    action: SCAN
"""


def replay_decisions(tmp_path, hist, scans, rules_path):
    directory = tmp_path / "history"
    directory.mkdir(exist_ok=True)
    write_jsonl(directory / "declarations.jsonl", "declarations", hist["declarations"])
    write_jsonl(directory / "inspection-results.jsonl", "inspection-results", hist["inspection-results"])
    write_jsonl(directory / "scans.jsonl", "scans", scans)
    return list(replay(directory, RuleFile(rules_path).book, EngineConfig())[0])


def join_scenario(tmp_path):
    """A 3-day history where four rule-selected declarations meet scans before/after filing and share a container."""
    hist = history(days=3, per_day=60, seed=21)
    by_id = {d["declaration_id"]: d for d in hist["declarations"]}
    shared = make_container_id("TGHU", 777)
    for decl_id in JOIN_IDS[2:]:
        by_id[decl_id]["containers"] = [by_id[decl_id]["containers"][0], shared]
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(RULES)
    a, b, c, d = (by_id[i] for i in JOIN_IDS)
    scans = [
        scan(1, a["containers"][0], a["filed_at"] - 2 * HOUR),  # before the declaration
        scan(2, b["containers"][0], b["filed_at"] + 5 * HOUR),  # after it
        scan(3, c["containers"][0], c["filed_at"] + 5 * HOUR),
        scan(4, d["containers"][0], d["filed_at"] + 6 * HOUR),
        scan(5, shared, max(c["filed_at"], d["filed_at"]) + 7 * HOUR),  # one scan for two declarations
    ]
    return hist, scans, rules_path


def a_month_later(declarations: list[dict]) -> list[dict]:
    """The last 16 declarations again, new ids, filed past the join horizon (10 minutes apart)."""
    later = []
    for i, d in enumerate(declarations[-16:]):
        d = copy.deepcopy(d)
        shift = REQUEST_HORIZON_MS + 2 * 86_400_000 + i * 600_000
        d["declaration_id"] = f"DEC-{9_000_000 + i:07d}"
        d["filed_at"] += shift
        d["expected_arrival"] += shift
        later.append(d)
    return later


def join_gauges(worker: WorkerProcess) -> dict[str, float]:
    """The worker's ``zeikan_join_*`` gauges, by the rest of their name."""
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {m[1]: float(m[2]) for m in re.finditer(r"^zeikan_join_(\w+) (\S+)$", text, re.M)}


def finished_joins(worker: WorkerProcess) -> float:
    """Join states the worker still holds that are done or overdue (entries less the pending ones)."""
    gauge = join_gauges(worker)
    return gauge.get("state_entries", 0.0) - gauge.get("pending_scans", 0.0)


def poison():
    """Undecodable and semantically invalid records on every input topic."""
    bad_container = copy.deepcopy(history(1, 1, seed=99)["declarations"][0])
    bad_container["declaration_id"] = "DEC-BAD"
    bad_container["containers"] = ["MSKU1234560"]  # wrong ISO 6346 check digit
    from zeikan.schemas.codec import codec_for

    undecodable = [("declarations", b"\xc3\x01garbage", b"X"), ("scans", b"not avro", b"C"), ("inspection-results", b"", b"I")]
    # encode without validation: the codec only checks the schema, the container check digit is semantic
    return undecodable + [("declarations", codec_for("declarations").encode(bad_container), b"DEC-BAD")]


def test_live_decisions_equal_replay_with_join_and_dead_letters(fresh_broker, tmp_path):
    broker = fresh_broker()
    hist, scans, rules_path = join_scenario(tmp_path)
    expected = replay_decisions(tmp_path, hist, scans, rules_path)
    post = {d["declaration_id"] for d in expected if d["stage"] == "POST_SCAN"}
    assert post == set(JOIN_IDS), "the scenario itself must complete the four joins"

    worker = WorkerProcess(broker.bootstrap, tmp_path / "w1", {"ZEIKAN_RULES": str(rules_path)})
    try:
        worker.wait_caught_up()
        events = in_event_time_order(hist, scans)
        cut = len(events) // 2
        publish(broker.bootstrap, encoded(events[:cut]) + poison())
        publish_events(broker.bootstrap, events[cut:])
        live = decision_ids_settle(broker.bootstrap, len(expected), 90, worker.log_path)
        dead = read_decoded(broker.bootstrap, "dead-letters")
        assert wait_until(lambda: finished_joins(worker) >= len(JOIN_IDS), 30, worker.log_path)
        assert join_gauges(worker)["container_entries"] >= len(JOIN_IDS) + 1
        later = {d["declaration_id"]: d for d in a_month_later(hist["declarations"])}
        publish_events(broker.bootstrap, [("declarations", d) for d in later.values()])
        wait_until(lambda: finished_joins(worker) == 0, 60, worker.log_path)  # forgotten once their containers forgot them
        later_scans = {c for d in read_decoded(broker.bootstrap, "decisions") if d["declaration_id"] in later
                       and d["action"] == "SCAN" for c in later[d["declaration_id"]]["containers"]}
        wait_until(lambda: join_gauges(worker)["container_entries"] <= len(later_scans), 60, worker.log_path)
    finally:
        worker.stop()

    live_ids = {d["decision_id"] for d in live}
    expected_ids = {d["decision_id"] for d in expected}
    agreement = len(live_ids & expected_ids) / len(expected_ids)
    print(f"live vs replay agreement: {agreement:.2%} of {len(expected_ids)} decisions")
    assert live_ids == expected_ids
    live_actions = {d["decision_id"]: (d["action"], d["random_selected"], d["reasons"]) for d in live}
    assert all(live_actions[d["decision_id"]] == (d["action"], d["random_selected"], d["reasons"]) for d in expected)
    post_live = [d for d in live if d["stage"] == "POST_SCAN"]
    assert Counter(d["declaration_id"] for d in post_live).keys() == set(JOIN_IDS)
    shared_scan = {d["declaration_id"] for d in post_live if any("scan SCN-0000005" in r for r in d["reasons"])}
    assert shared_scan == set(JOIN_IDS[2:])

    kinds = Counter((d["source_topic"], d["error_kind"]) for d in dead)
    assert kinds == {("declarations", "DECODE"): 1, ("scans", "DECODE"): 1, ("inspection-results", "DECODE"): 1,
                     ("declarations", "SEMANTIC"): 1}
    semantic = next(d for d in dead if d["error_kind"] == "SEMANTIC")
    assert semantic["key"] == b"DEC-BAD" and "containers" in semantic["error_message"] and semantic["offset"] >= 0


def test_rule_hot_reload_and_bad_rule_file(fresh_broker, tmp_path):
    broker = fresh_broker()
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text("version: r1\nrules: []\n")
    hist = history(days=1, per_day=40, seed=5)
    first, second, third = hist["declarations"][:10], hist["declarations"][10:20], hist["declarations"][20:30]
    worker = WorkerProcess(broker.bootstrap, tmp_path / "w1", {"ZEIKAN_RULES": str(rules_path)})
    try:
        worker.wait_caught_up()
        publish_events(broker.bootstrap, [("declarations", d) for d in first])
        decision_ids_settle(broker.bootstrap, 10, 60, worker.log_path)

        rules_path.write_text("version: r2\nrules:\n  - id: everything-sea\n    when: transport_mode = SEA\n    action: DOCUMENT_CHECK\n")
        wait_until(lambda: worker.state()["rules_version"] == "r2", 20, worker.log_path)
        publish_events(broker.bootstrap, [("declarations", d) for d in second])
        decision_ids_settle(broker.bootstrap, 20, 60, worker.log_path)

        rules_path.write_text("version: r3\nrules:\n  - id: broken\n    when: [\"unit_value < cheap\"]\n")
        state = wait_until(lambda: (s := worker.state())["rules_error"] and s, 20, worker.log_path)
        assert state["rules_version"] == "r2" and "rejected" in state["rules_error"]
        publish_events(broker.bootstrap, [("declarations", d) for d in third])
        decisions = {d["declaration_id"]: d for d in decision_ids_settle(broker.bootstrap, 30, 60, worker.log_path)}
        time.sleep(0.5)
        log = worker.log_text()
    finally:
        worker.stop()
    assert all(decisions[d["declaration_id"]]["model_versions"]["rules"] == "r1" for d in first)
    assert all(not decisions[d["declaration_id"]]["rule_hits"] for d in first)
    for batch in (second, third):
        for d in batch:
            got = decisions[d["declaration_id"]]
            assert got["rule_hits"] == ["everything-sea"] and got["model_versions"]["rules"] == "r2"
            assert got["action"] != "RELEASE"
    assert "rule file" in log and "previous rules stay active" in log
