"""Facts: what every worker folds into the shared state, and their wire form on the facts topic.

A declaration's owner (the worker holding its partition) decides it, then publishes
a *declaration fact*: the declaration itself plus the outcome that capacity and
random selection count (rank key, lanes, content digest). Inspection results become
*inspection facts*. A *marker* says that a source partition has published every fact
of the epochs up to ``epoch``. Every worker reads the one-partition facts topic in
the same order, so all of them fold the same facts at the same points.

On the wire a fact's value is the contract record's Avro bytes (the same bytes the
source topic carried: nothing is re-encoded) and its metadata travels in headers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from zeikan.features.definitions import ASOF_EPOCH_MS
from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DECLARATIONS, INSPECTION_RESULTS

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

    def to_json(self) -> bytes:
        """Compact JSON (the ``o`` header)."""
        return json.dumps([self.rank_key, self.risk_action, self.action, self.random_lane, self.digest]).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Outcome:
        """Inverse of :meth:`to_json`."""
        rank_key, risk, action, lane, digest = json.loads(raw)
        return cls(float(rank_key), str(risk), str(action), lane, str(digest))


@dataclass(frozen=True)
class Fact:
    """One entry of the facts log."""

    kind: FactKind
    source: str
    epoch: int
    record: Mapping[str, Any] | None = None
    outcome: Outcome | None = None

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


def encode_fact(fact: Fact, raw: bytes | None = None) -> tuple[bytes, list[tuple[str, bytes]]]:
    """(value, headers) of a fact; ``raw`` is the record's Avro bytes when the caller has them."""
    headers = [("k", _WIRE_KIND[fact.kind]), ("s", fact.source.encode()), ("e", str(fact.epoch).encode())]
    if fact.outcome is not None:
        headers.append(("o", fact.outcome.to_json()))
    if fact.record is None:
        return b"", headers
    value = raw if raw is not None else codec_for(_TOPIC[fact.kind]).encode(dict(fact.record))
    return value, headers


def decode_fact(value: bytes, headers: Sequence[tuple[str, bytes]]) -> Fact:
    """The fact of a facts-topic message (raises KeyError/ValueError on a foreign message)."""
    meta = dict(headers)
    kind = _KIND_OF[bytes(meta["k"])]
    source, epoch = bytes(meta["s"]).decode(), int(bytes(meta["e"]))
    if kind == "marker":
        return Fact("marker", source, epoch)
    record = codec_for(_TOPIC[kind]).decode(bytes(value))
    outcome = Outcome.from_json(bytes(meta["o"])) if "o" in meta else None
    return Fact(kind, source, epoch, record, outcome)  # type: ignore[arg-type]
