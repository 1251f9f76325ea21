"""The pure declaration <-> container join: order independence, sharing, idempotency, overdue."""

from __future__ import annotations

import itertools

from zeikan.streams.engine.join import (
    JoinBook,
    Match,
    declaration_on_match,
    declaration_on_open,
    new_declaration_state,
    overdue_containers,
)

DAY = 86_400_000


def opening(decl_id, containers, filed_at=10 * DAY, deadline=12 * DAY):
    return {"declaration_id": decl_id, "filed_at": filed_at, "containers": containers, "deadline": deadline}


def scan(scan_id, container, t, ids=()):
    return {"scan_id": scan_id, "container_id": container, "scanned_at": t, "declaration_ids": list(ids)}


def completions(events):
    book = JoinBook(lookback_ms=2 * DAY)
    done = {}
    for kind, payload in events:
        out = book.on_open(payload) if kind == "open" else book.on_scan(payload)
        for decl_id, scans in out:
            assert decl_id not in done, "completed twice"
            done[decl_id] = [s["scan_id"] for s in scans]
    return done


def test_scans_before_and_after_the_declaration_and_shared_containers_in_any_order():
    events = [
        ("open", opening("D1", ["C1", "C2"])),
        ("open", opening("D2", ["C2"])),
        ("scan", scan("S1", "C1", 9 * DAY)),  # a day before filing: inside the lookback
        ("scan", scan("S2", "C2", 11 * DAY)),  # shared by D1 and D2
        ("scan", scan("S0", "C1", 5 * DAY)),  # too old: previous voyage
    ]
    for order in itertools.permutations(events):
        assert completions(order) == {"D1": ["S1", "S2"], "D2": ["S2"]}


def test_a_scan_that_names_declarations_only_counts_for_them():
    events = [
        ("open", opening("D1", ["C1"])),
        ("open", opening("D2", ["C1"])),
        ("scan", scan("S1", "C1", 11 * DAY, ids=["D2"])),
    ]
    assert completions(events) == {"D2": ["S1"]}


def test_first_scan_per_container_wins_and_replays_change_nothing():
    events = [
        ("open", opening("D1", ["C1"])),
        ("scan", scan("S1", "C1", 11 * DAY)),
        ("scan", scan("S1", "C1", 11 * DAY)),
        ("scan", scan("S2", "C1", 12 * DAY)),
        ("open", opening("D1", ["C1"])),
    ]
    assert completions(events) == {"D1": ["S1"]}


def test_early_scans_are_offered_oldest_first():
    events = [("scan", scan("S2", "C1", 11 * DAY)), ("scan", scan("S1", "C1", 10 * DAY)), ("open", opening("D1", ["C1"]))]
    assert completions(events) == {"D1": ["S1"]}


def test_overdue_once_after_the_deadline_unless_complete():
    state = new_declaration_state()
    assert declaration_on_open(state, opening("D1", ["C1", "C2"])) is None
    declaration_on_match(state, Match("D1", "C1", scan("S1", "C1", 11 * DAY)))
    assert overdue_containers(state, 12 * DAY) is None
    assert overdue_containers(state, 12 * DAY + 1) == ["C2"]
    assert overdue_containers(state, 13 * DAY) is None
    # a late scan still completes the declaration
    assert declaration_on_match(state, Match("D1", "C2", scan("S2", "C2", 14 * DAY))) is not None
