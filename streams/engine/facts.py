"""Facts: what every worker folds into the shared state, and their wire form on the facts topic.

A declaration's owner (the worker holding its partition) decides it, then publishes
a *declaration fact*: the declaration itself plus the outcome that capacity and
random selection count (rank key, lanes, content digest). Inspection results become
*inspection facts*. A *marker* says that a source partition has published every fact
of the epochs up to ``epoch``. Every worker reads the one-partition facts topic in
the same order, so all of them fold the same facts at the same points.

On the wire one facts record carries many facts (:func:`encode_facts`): each one's
metadata and the contract record's Avro bytes (the same bytes the source topic
carried: nothing is re-encoded).
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from zeikan.features.definitions import ASOF_EPOCH_MS
from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DECLARATIONS, INSPECTION_RESULTS
from zeikan.schemas.errors import ValidationError

FactKind = Literal["declaration", "inspection", "marker"]
_WIRE_KIND = {"declaration": b"d", "inspection": b"i", "marker": b"m"}
_KIND_OF = {v: k for k, v in _WIRE_KIND.items()}
_SPEC = {"declaration": DECLARATIONS, "inspection": INSPECTION_RESULTS}
_TOPIC = {kind: spec.name for kind, spec in _SPEC.items()}
_TIME_FIELD = {kind: spec.time_field for kind, spec in _SPEC.items()}
_ID_FIELD = {"declaration": "declaration_id", "inspection": "inspection_id"}
_RANK = {"declaration": 0, "inspection": 1}


def epoch_of(t: int, epoch_ms: int = ASOF_EPOCH_MS) -> int:
    """The event-time epoch number of an epoch-millis time.

    >>> epoch_of(7_199_999), epoch_of(7_200_000)
    (1, 2)
    """
    return t // epoch_ms


def source_name(topic: str, partition: int) -> str:
    """The name of a source partition (``declarations:3``)."""
    return f"{topic}:{partition}"


def content_digest(topic: str, record: Mapping[str, Any]) -> str:
    """sha256 of a record's Avro encoding with the topic's current schema, 16 hex chars.

    Same content, same digest, whatever framing or older schema version it arrived in
    (the record is re-encoded, not hashed as received); Avro's binary encoding of a record
    without maps is canonical.
    """
    return hashlib.sha256(codec_for(topic).encode(dict(record))).hexdigest()[:16]


@dataclass(frozen=True)
class Outcome:
    """What a decided declaration adds to capacity and random-selection counts."""

    rank_key: float
    risk_action: str
    action: str
    random_lane: str | None
    digest: str
    rule_lane: str | None = None
    """The lane the rules asked for, before the lane buckets and the rule cuts (None: no rule asked)."""
    container_key: float | None = None
    """The key the container lanes rank it by (``capacity.container_key``; None: the rank key)."""

    def to_json(self) -> bytes:
        """Compact JSON (as a facts frame carries it)."""
        return json.dumps([self.rank_key, self.risk_action, self.action, self.random_lane, self.digest,
                           self.rule_lane, self.container_key]).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Outcome:
        """Inverse of :meth:`to_json`; a list written before ``rule_lane`` or ``container_key`` reads None for them.

        >>> Outcome.from_json(b'[0.5, "RELEASE", "SCAN", null, "d"]').rule_lane is None
        True
        """
        rank_key, risk, action, lane, digest, *rest = json.loads(raw)
        rule_lane = rest[0] if rest else None
        container = float(rest[1]) if len(rest) > 1 and rest[1] is not None else None
        return cls(float(rank_key), str(risk), str(action), lane, str(digest), rule_lane, container)


@dataclass(frozen=True)
class Fact:
    """One entry of the facts log."""

    kind: FactKind
    source: str
    epoch: int
    record: Mapping[str, Any] | None = None
    outcome: Outcome | None = None
    raw: bytes | None = field(default=None, compare=False, repr=False)
    """The record's Avro bytes when known (sent as they are, never re-encoded)."""
    reached: int = -1
    """Markers: the newest epoch the source has received (its queue may hold epochs it cannot close yet)."""

    @property
    def time(self) -> int:
        """Event time of the record (markers: the end of their epoch)."""
        return int(self.record[_TIME_FIELD[self.kind]]) if self.record is not None else -1

    @property
    def event_id(self) -> str:
        """declaration_id / inspection_id ('' for markers)."""
        return str(self.record[_ID_FIELD[self.kind]]) if self.record is not None else ""

    @property
    def order_key(self) -> tuple[int, int, str]:
        """Fold order: event time, declarations before inspections, event id (as the batch features sort)."""
        return (self.time, _RANK.get(self.kind, 2), self.event_id)


FACTS_FORMAT = 1
"""First byte of every facts record; bumped when the frame layout changes."""

FACTS_RECORD_MAX_BYTES = 256 * 1024
"""A facts record is closed once it holds this much (one fact may make it larger)."""

_HEAD = struct.Struct(">cHqqII")
"""Frame head: kind, source length, epoch, reached, outcome length, record length."""


def encode_facts(facts: Sequence[Fact], max_bytes: int = FACTS_RECORD_MAX_BYTES) -> list[tuple[bytes, list[Fact]]]:
    """(value, the facts it carries) of each facts record that carries ``facts``, in order, each about ``max_bytes`` at most.

    One record holds many facts (Kafka's per-record cost is paid once per batch, and the
    broker stores far fewer batches). Each fact is a frame: kind, source, epoch, the
    outcome's JSON and the record's Avro bytes (``fact.raw`` when the caller has them).

    >>> [len(decode_facts(v)) for v, _ in encode_facts([Fact("marker", "declarations:0", 3)] * 3, max_bytes=90)]
    [2, 1]
    """
    values: list[tuple[bytes, list[Fact]]] = []
    frames: list[bytes] = []
    carried: list[Fact] = []
    size = 1
    for fact in facts:
        source = fact.source.encode()
        outcome = fact.outcome.to_json() if fact.outcome is not None else b""
        if fact.record is None:
            body = b""
        else:
            body = fact.raw if fact.raw is not None else codec_for(_TOPIC[fact.kind]).encode(dict(fact.record))
        head = _HEAD.pack(_WIRE_KIND[fact.kind], len(source), fact.epoch, fact.reached, len(outcome), len(body))
        frame = b"".join((head, source, outcome, body))
        if frames and size + len(frame) > max_bytes:
            values.append((bytes([FACTS_FORMAT]) + b"".join(frames), carried))
            frames, carried, size = [], [], 1
        frames.append(frame)
        carried.append(fact)
        size += len(frame)
    if frames:
        values.append((bytes([FACTS_FORMAT]) + b"".join(frames), carried))
    return values


def decode_facts(value: bytes) -> list[Fact]:
    """The facts of one facts record (raises ValueError on a foreign or truncated record)."""
    view = memoryview(value)
    if not view or view[0] != FACTS_FORMAT:
        raise ValueError(f"not a facts record of format {FACTS_FORMAT}")
    facts: list[Fact] = []
    at = 1
    try:
        while at < len(view):
            wire, source_len, epoch, reached, outcome_len, body_len = _HEAD.unpack_from(view, at)
            at += _HEAD.size
            source = bytes(view[at:at + source_len]).decode()
            at += source_len
            outcome = Outcome.from_json(bytes(view[at:at + outcome_len])) if outcome_len else None
            at += outcome_len
            body = bytes(view[at:at + body_len])
            at += body_len
            if at > len(view):
                raise ValueError("facts record truncated")
            kind = _KIND_OF[wire]
            if kind == "marker":
                facts.append(Fact("marker", source, epoch, reached=reached))
            else:
                record = codec_for(_TOPIC[kind]).decode(body)
                facts.append(Fact(kind, source, epoch, record, outcome, raw=body))  # type: ignore[arg-type]
    except (struct.error, KeyError, UnicodeDecodeError, ValidationError) as exc:
        raise ValueError(f"facts record unreadable: {exc!r}") from None
    return facts
