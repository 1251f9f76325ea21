"""The shared state's epoch protocol, without a broker: markers, late and duplicate facts, snapshots."""

from __future__ import annotations

import pytest

from tests.streams.pipeline_factories import HOUR, T0, history
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.facts import Fact, Outcome, decode_facts, encode_facts, epoch_of
from zeikan.streams.engine.shared_state import NOT_READY, SharedState

SOURCES = ("declarations:0", "declarations:1")


def fact(decl: dict, source: str = "declarations:0") -> Fact:
    return Fact("declaration", source, epoch_of(decl["filed_at"]), decl, Outcome(0.5, "RELEASE", "RELEASE", None, "d"))


def marker(source: str, epoch: int) -> Fact:
    return Fact("marker", source, epoch)


def decls(n: int = 6) -> list[dict]:
    out = history(days=1, per_day=n, seed=4)["declarations"]
    for i, d in enumerate(out):
        d["filed_at"] = T0 + i * HOUR + 1
    return out


def test_an_epoch_folds_only_when_every_source_closed_it():
    state = SharedState(EngineConfig(), SOURCES)
    first, second = decls(2)
    e = epoch_of(first["filed_at"])
    assert not state.receive(fact(first))
    assert not state.receive(marker("declarations:0", e))
    assert state.ready_epoch == NOT_READY and not state.decidable(e + 1)
    assert state.receive(marker("declarations:1", e))
    assert state.decidable(e + 1) and state.known(first["declaration_id"]) == "d"
    assert state.known(second["declaration_id"]) is None


def test_a_duplicate_fact_changes_nothing_and_a_late_one_is_folded_at_once():
    state = SharedState(EngineConfig(), SOURCES)
    d = decls(3)
    for one in d[:2]:
        state.receive(fact(one))
    e = epoch_of(d[1]["filed_at"])
    state.receive(marker(SOURCES[0], e))
    state.receive(marker(SOURCES[1], e))
    version, digest = state.version, state.digest()
    assert not state.receive(fact(d[0]))  # re-published after a retry
    assert (state.version, state.digest()) == (version, digest)
    late = {**d[2], "filed_at": d[0]["filed_at"] + 5}
    assert state.receive(fact(late)) and state.late_facts == 1
    assert state.known(late["declaration_id"]) == "d" and state.version != version


def test_one_source_far_ahead_does_not_drag_the_idle_sources():
    state = SharedState(EngineConfig(), ("a", "b", "c"))
    state.receive(marker("a", 100))
    state.receive(marker("b", 101))
    assert state.frontier() == 102
    state.receive(marker("c", 100 + 24 * 30))
    assert state.frontier() == 102


def test_a_busy_source_moves_the_frontier_to_the_epoch_it_has_received_not_only_past_the_one_it_closes():
    state = SharedState(EngineConfig(), ("a", "b", "c"))
    state.receive(Fact("marker", "a", 100, reached=110))
    state.receive(Fact("marker", "b", 100, reached=112))
    assert state.frontier() == 112 and state.marked == {"a": 100, "b": 100}
    [(value, _)] = encode_facts([Fact("marker", "a", 100, reached=110)])
    assert decode_facts(value)[0].reached == 110


def test_snapshot_round_trip_and_corrupt_snapshots_are_refused():
    state = SharedState(EngineConfig(), SOURCES)
    d = decls(4)
    for one in d:
        state.receive(fact(one, SOURCES[len(one["declaration_id"]) % 2]))
    state.receive(marker(SOURCES[0], epoch_of(d[1]["filed_at"])))
    state.receive(marker(SOURCES[1], epoch_of(d[1]["filed_at"])))
    blob = state.to_bytes()
    copy = SharedState(EngineConfig(), SOURCES)
    copy.restore(blob)
    assert (copy.digest(), copy.ready_epoch, copy.buffer.keys()) == (state.digest(), state.ready_epoch, state.buffer.keys())
    for bad in (blob[: len(blob) // 2], b"", blob[:40] + b"x" + blob[41:]):
        with pytest.raises(ValueError):
            copy.restore(bad)
    assert copy.digest() == state.digest(), "a refused snapshot leaves the state as it was"


def test_facts_round_trip_on_the_wire_many_to_a_record_in_order():
    one, two = (fact(d) for d in decls(2))
    mark = marker("declarations:3", 7)
    [(value, carried)] = encode_facts([one, mark, two])
    back = decode_facts(value)
    assert carried == [one, mark, two]
    assert [(f.kind, f.source, f.epoch, f.event_id, f.outcome) for f in back] == [
        (f.kind, f.source, f.epoch, f.event_id, f.outcome) for f in (one, mark, two)
    ]
    assert back[0].record == one.record and back[1].record is None
    split = encode_facts([one, mark, two], max_bytes=len(value) // 2)
    assert [f for _, facts in split for f in facts] == [one, mark, two] and len(split) > 1, "records close at the size limit"
    [(garbled, _)] = encode_facts([Fact("declaration", "declarations:0", 1, one.record, one.outcome, raw=b"\xff\xfe")])
    for bad in (value[: len(value) - 3], b"", b"\x09" + value[1:], garbled):
        with pytest.raises(ValueError):
            decode_facts(bad)
