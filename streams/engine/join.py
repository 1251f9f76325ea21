"""The declaration <-> container join as pure functions over JSON-able state.

Two keyed states, so the stream can keep them in two Faust tables:

* per **container** (key ``container_id``): ``{"scans": {scan_id: scan}, "requests":
  {declaration_id: request}}``. A request is a declaration sent to SCAN that lists
  the container. A scan and a request *match* when the scan names the declaration,
  or names none and was taken at most ``lookback_ms`` before the filing (or any time
  after). Either side may come first; each arrival returns the new matches.
* per **declaration** (key ``declaration_id``): ``{"open": opening or None, "scans":
  {container_id: scan}, "done": bool, "overdue": bool}``. The first matching scan
  of each container counts; once the opening (the PRE_ARRIVAL SCAN decision) is
  known and every container has a scan, the declaration is complete, exactly once.

Every update is keyed by event ids (scan_id, declaration_id, container_id), so a
replayed message changes nothing.

The two internal join topics carry typed messages (:data:`ContainerMessage` on the
container-keyed topic, :data:`DeclarationMessage` on the declaration-keyed one),
JSON objects on the wire with a ``kind``, written and read by :func:`encode_message`
and :func:`decode_message` only:

>>> decode_message(encode_message(DeadlineCheck(clock=5)))
DeadlineCheck(clock=5)
>>> encode_message(ScanMatched("MSKU1", {"scan_id": "S1"}))
{'kind': 'match', 'container_id': 'MSKU1', 'scan': {'scan_id': 'S1'}}
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, fields
from typing import Any

State = MutableMapping[str, Any]


@dataclass(frozen=True)
class Match:
    """A scan that counts for a declaration's container."""

    declaration_id: str
    container_id: str
    scan: Mapping[str, Any]


@dataclass(frozen=True)
class ScanArrived:
    """Container topic: a valid scan of the container (from the ``scans`` agent)."""

    scan: Mapping[str, Any]


@dataclass(frozen=True)
class ScanRequested:
    """Container topic: a declaration sent to SCAN lists the container (:func:`scan_request`)."""

    request: Mapping[str, Any]


@dataclass(frozen=True)
class ExpiryCheck:
    """Container topic: drop what can no longer match at this event-time ``clock`` (the state too, once empty)."""

    clock: int


@dataclass(frozen=True)
class Opened:
    """Declaration topic: the PRE_ARRIVAL SCAN decision's opening of the join."""

    opening: Mapping[str, Any]


@dataclass(frozen=True)
class ScanMatched:
    """Declaration topic: a scan that counts for one of the declaration's containers."""

    container_id: str
    scan: Mapping[str, Any]


@dataclass(frozen=True)
class DeadlineCheck:
    """Declaration topic: is the join overdue at this event-time ``clock``?"""

    clock: int


ContainerMessage = ScanArrived | ScanRequested | ExpiryCheck
DeclarationMessage = Opened | ScanMatched | DeadlineCheck

MESSAGE_KINDS: dict[str, type] = {
    "scan": ScanArrived, "request": ScanRequested, "expire": ExpiryCheck, "open": Opened, "match": ScanMatched,
    "check": DeadlineCheck,
}
"""Wire ``kind`` -> message class."""

_KIND_OF = {cls: kind for kind, cls in MESSAGE_KINDS.items()}


def encode_message(message: ContainerMessage | DeclarationMessage) -> dict[str, Any]:
    """The JSON object of a join message: its ``kind`` and its fields."""
    body: dict[str, Any] = {"kind": _KIND_OF[type(message)]}
    for f in fields(message):
        value = getattr(message, f.name)
        body[f.name] = dict(value) if isinstance(value, Mapping) else value
    return body


def decode_message(body: Any) -> ContainerMessage | DeclarationMessage:
    """The join message of a JSON object; ValueError for an unknown kind or a missing field."""
    cls = MESSAGE_KINDS.get(body.get("kind")) if isinstance(body, Mapping) else None
    if cls is None:
        raise ValueError(f"not a join message (kind {body.get('kind') if isinstance(body, Mapping) else body!r})")
    missing = [f.name for f in fields(cls) if f.name not in body]
    if missing:
        raise ValueError(f"join message {body['kind']!r} lacks {', '.join(missing)}")
    return cls(**{f.name: body[f.name] for f in fields(cls)})


def new_container_state() -> dict[str, Any]:
    """Empty state of one container."""
    return {"scans": {}, "requests": {}}


def new_declaration_state() -> dict[str, Any]:
    """Empty join state of one declaration."""
    return {"open": None, "scans": {}, "done": False, "overdue": False}


def scan_request(declaration: Mapping[str, Any]) -> dict[str, Any]:
    """What a container needs to know about a declaration sent to SCAN."""
    return {
        "declaration_id": str(declaration["declaration_id"]),
        "filed_at": int(declaration["filed_at"]),
        "containers": list(declaration["containers"]),
    }


def scan_matches(scan: Mapping[str, Any], request: Mapping[str, Any], lookback_ms: int) -> bool:
    """Whether ``scan`` counts for the declaration of ``request``."""
    named = scan.get("declaration_ids") or []
    if named:
        return request["declaration_id"] in named
    return int(scan["scanned_at"]) >= int(request["filed_at"]) - lookback_ms


def _scan_order(scan: Mapping[str, Any]) -> tuple[int, str]:
    return (int(scan["scanned_at"]), str(scan["scan_id"]))


def container_on_scan(state: State, scan: Mapping[str, Any], lookback_ms: int) -> list[Match]:
    """Store a scan of this container; matches with the waiting requests (none if seen before)."""
    if scan["scan_id"] in state["scans"]:
        return []
    state["scans"][scan["scan_id"]] = dict(scan)
    return [
        Match(req["declaration_id"], str(scan["container_id"]), scan)
        for _, req in sorted(state["requests"].items())
        if scan_matches(scan, req, lookback_ms)
    ]


def container_on_request(
    state: State, container_id: str, request: Mapping[str, Any], lookback_ms: int
) -> list[Match]:
    """Store a request for this container; matches with the scans already here, oldest first."""
    if request["declaration_id"] in state["requests"]:
        return []
    state["requests"][request["declaration_id"]] = dict(request)
    scans = sorted(state["scans"].values(), key=_scan_order)
    return [Match(request["declaration_id"], container_id, s) for s in scans if scan_matches(s, request, lookback_ms)]


REQUEST_HORIZON_MS = 30 * 86_400_000
"""A scan request older than this (event time) no longer waits for a scan."""


def expire_container(state: State, clock_ms: int, lookback_ms: int) -> None:
    """Drop what can no longer match: scans older than ``lookback_ms`` and requests older than
    :data:`REQUEST_HORIZON_MS` before the event-time ``clock_ms`` (in-order input)."""
    if clock_ms <= 0:
        return
    for scan_id in [k for k, s in state["scans"].items() if int(s["scanned_at"]) < clock_ms - lookback_ms]:
        del state["scans"][scan_id]
    for decl_id in [k for k, r in state["requests"].items() if int(r["filed_at"]) < clock_ms - REQUEST_HORIZON_MS]:
        del state["requests"][decl_id]


def forget_at(state: State) -> int | None:
    """Event time from which a declaration's join may be deleted: once it is done or overdue, and
    :data:`REQUEST_HORIZON_MS` after its filing, when its containers no longer hold its scan requests
    (None: still open, or never opened)."""
    opening = state.get("open")
    if opening is None or not (state["done"] or state["overdue"]):
        return None
    return int(opening["filed_at"]) + REQUEST_HORIZON_MS


def join_kept(state: State, checked_at: int | None) -> bool:
    """Whether a declaration's join state is worth keeping after a batch: not once a deadline check at
    ``checked_at`` (event time; None: no check) is past its forget time, and not while it knows nothing
    (no opening, no scan: a check for a join already deleted must not leave an empty state behind).

    >>> join_kept(new_declaration_state(), checked_at=5)
    False
    """
    if state["open"] is None and not state["scans"]:
        return False
    forget = forget_at(state)
    return forget is None or checked_at is None or checked_at <= forget


def container_empty_at(state: State, lookback_ms: int) -> int | None:
    """Event time after which :func:`expire_container` leaves the state empty (None: it is empty)."""
    times = [int(s["scanned_at"]) + lookback_ms for s in state["scans"].values()]
    times += [int(r["filed_at"]) + REQUEST_HORIZON_MS for r in state["requests"].values()]
    return max(times) if times else None


def _complete(state: State) -> list[Mapping[str, Any]] | None:
    opening = state["open"]
    if state["done"] or opening is None:
        return None
    containers = opening["containers"]
    if not all(c in state["scans"] for c in containers):
        return None
    state["done"] = True
    return [state["scans"][c] for c in containers]


def declaration_on_open(state: State, opening: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """Record the SCAN decision; the scans (container order) if that completes the declaration."""
    if state["open"] is None:
        state["open"] = dict(opening)
    return _complete(state)


def declaration_on_match(state: State, match: Match) -> list[Mapping[str, Any]] | None:
    """Record a matching scan (first per container wins); the scans if that completes it."""
    if state["done"] or match.container_id in state["scans"]:
        return None
    state["scans"][match.container_id] = dict(match.scan)
    return _complete(state)


def overdue_containers(state: State, now_ms: int) -> list[str] | None:
    """Containers still unscanned when the deadline passed (None: not overdue or already flagged)."""
    opening = state["open"]
    if opening is None or state["done"] or state["overdue"] or now_ms <= int(opening["deadline"]):
        return None
    state["overdue"] = True
    return [c for c in opening["containers"] if c not in state["scans"]]


class JoinBook:
    """Both join states in plain dicts: the single-process join used by ``zeikan replay``."""

    def __init__(self, lookback_ms: int) -> None:
        self._lookback = lookback_ms
        self.containers: dict[str, dict[str, Any]] = {}
        self.declarations: dict[str, dict[str, Any]] = {}

    def _container(self, container_id: str) -> dict[str, Any]:
        return self.containers.setdefault(container_id, new_container_state())

    def _declaration(self, declaration_id: str) -> dict[str, Any]:
        return self.declarations.setdefault(declaration_id, new_declaration_state())

    def _route(self, matches: list[Match]) -> list[tuple[str, list[Mapping[str, Any]]]]:
        done = []
        for match in matches:
            scans = declaration_on_match(self._declaration(match.declaration_id), match)
            if scans is not None:
                done.append((match.declaration_id, scans))
        return done

    def on_scan(self, scan: Mapping[str, Any]) -> list[tuple[str, list[Mapping[str, Any]]]]:
        """Fold a scan in; (declaration_id, scans) of every declaration it completes."""
        return self._route(container_on_scan(self._container(str(scan["container_id"])), scan, self._lookback))

    def on_open(self, opening: Mapping[str, Any]) -> list[tuple[str, list[Mapping[str, Any]]]]:
        """Open a declaration sent to SCAN; (declaration_id, scans) if already complete."""
        decl_id = str(opening["declaration_id"])
        scans = declaration_on_open(self._declaration(decl_id), opening)
        done = [] if scans is None else [(decl_id, scans)]
        for container_id in opening["containers"]:
            state = self._container(container_id)
            done += self._route(container_on_request(state, container_id, opening, self._lookback))
        return done
