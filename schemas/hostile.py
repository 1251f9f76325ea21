"""Hostile input: generators of bad messages of many kinds, for tests and ``bench/fuzz.py``.

Each kind builds the raw bytes an outside producer could send (wire-level forgeries such as
an enum index of -1 are written with a look-alike schema under the real fingerprint) and
says which dead-letter ``error_kind`` zeikan's input checks give it
(:func:`zeikan.schemas.admission.admit` with the default :class:`Limits`):

>>> bad = hostile("enum_minus_one", serial=1, now_ms=1_709_280_000_000)
>>> bad.topic, bad.expect, len(bad.value)
('declarations', 'DECODE', 275)
>>> sorted({HOSTILE_KINDS[k].expect for k in HOSTILE_KINDS})
['DECODE', 'IMPLAUSIBLE_TIME', 'LIMIT', 'SEMANTIC']

Kinds in :data:`HEAVY_KINDS` are megabytes each: send a few, not thousands.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO
from typing import Any

import fastavro

from zeikan.schemas.codec import SINGLE_OBJECT_MARKER, codec_for, schema_json
from zeikan.schemas.contract import DECLARATIONS, INSPECTION_RESULTS, SCANS
from zeikan.schemas.errors import ErrorKind
from zeikan.schemas.examples import example_record
from zeikan.schemas.reference import make_container_id
from zeikan.schemas.structure import strip_logical_type

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
YEAR_2099_MS = 4_102_358_400_000
"""2099-12-31T00:00:00Z: valid for the schema and validation, implausible at any processing time."""
MINIMAL_ITEM = b"\x02" + b"\x00\x00" + bytes(8) + b"\x00" + bytes(8) + b"\x00\x00"
"""The smallest encoded DeclarationItem (line 1, empty strings, zero amounts): 22 bytes."""


@dataclass(frozen=True)
class Hostile:
    """One bad message: what to send where, and the dead-letter kind it must get."""

    kind: str
    topic: str
    key: bytes | None
    value: bytes
    expect: str


@dataclass(frozen=True)
class HostileKind:
    """A registered kind: its topic, the expected dead-letter kind and the builder of its bytes."""

    topic: str
    expect: str
    build: Callable[[random.Random, int, int], tuple[bytes | None, bytes]]


HOSTILE_KINDS: dict[str, HostileKind] = {}
"""Every kind of bad message, by name."""
HEAVY_KINDS = frozenset({"one_mb_description", "four_mb_random", "twelve_mb_random", "items_540000"})
"""Kinds of a megabyte or more."""


def hostile(kind: str, serial: int, now_ms: int, rng: random.Random | None = None) -> Hostile:
    """The bad message of ``kind`` number ``serial`` (ids derive from it) at processing time ``now_ms``."""
    spec = HOSTILE_KINDS[kind]
    key, value = spec.build(rng or random.Random(serial), serial, now_ms)
    return Hostile(kind, spec.topic, key, value, spec.expect)


def _kind(name: str, topic: str, expect: ErrorKind) -> Callable[[Callable], Callable]:
    def register(build: Callable[[random.Random, int, int], tuple[bytes | None, bytes]]) -> Callable:
        HOSTILE_KINDS[name] = HostileKind(topic, str(expect), build)
        return build

    return register


# --- good records and wire helpers ---------------------------------------------------------------


def good_declaration(serial: int, filed_at: int, prefix: str = "GOOD") -> dict[str, Any]:
    """A valid declaration ``{prefix}-{serial}`` filed at ``filed_at``, one container of its own."""
    record = example_record(DECLARATIONS.name)
    record["declaration_id"] = f"{prefix}-{serial:08d}"
    record["filed_at"] = filed_at
    record["expected_arrival"] = filed_at + 72 * HOUR_MS
    record["importer_id"] = f"IMP-{serial % 400:04d}"
    record["containers"] = [make_container_id("MSKU", serial % 1_000_000)]
    return record


def _good_scan(serial: int, now_ms: int) -> dict[str, Any]:
    record = example_record(SCANS.name)
    record["scan_id"] = f"HSC-{serial:08d}"
    record["container_id"] = make_container_id("HOSU", serial % 1_000_000)
    record["scanned_at"] = now_ms - HOUR_MS
    record["declaration_ids"] = []
    return record


def _good_inspection(serial: int, now_ms: int) -> dict[str, Any]:
    record = example_record(INSPECTION_RESULTS.name)
    record["inspection_id"] = f"HIN-{serial:08d}"
    record["declaration_id"] = f"HOSTILE-{serial:08d}"
    record["inspected_at"] = now_ms - HOUR_MS
    return record


def varint(n: int) -> bytes:
    """The Avro zigzag varint of ``n``."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def forged(topic: str, record: dict[str, Any], retype: dict[str, Any]) -> bytes:
    """``record`` written with ``topic``'s schema whose fields in ``retype`` take another wire type, under the
    real fingerprint: e.g. an enum as ``"int"`` to write any index, a union as ``{"i": int, "v": branch}``."""
    real = schema_json(topic)
    schema = copy.deepcopy(real)
    for field in schema["fields"]:
        if field["name"] in retype:
            field["type"] = retype[field["name"]]
            field.pop("default", None)
    body = BytesIO()
    body.write(SINGLE_OBJECT_MARKER + codec_for(topic).fingerprint)
    fastavro.schemaless_writer(body, fastavro.parse_schema(strip_logical_type(schema, "timestamp-millis")), record)
    return body.getvalue()


def _declaration(rng: random.Random, serial: int, now_ms: int, **changes: Any) -> dict[str, Any]:
    record = good_declaration(serial, now_ms - rng.randint(0, HOUR_MS), prefix="HOSTILE")
    record.update(changes)
    return record


def _encode(topic: str, record: dict[str, Any]) -> tuple[bytes, bytes]:
    key_field = {DECLARATIONS.name: "declaration_id", SCANS.name: "container_id",
                 INSPECTION_RESULTS.name: "declaration_id"}[topic]
    return str(record[key_field]).encode(), codec_for(topic).encode(record)


def _bad_item(rng: random.Random, serial: int, now_ms: int, **changes: Any) -> tuple[bytes, bytes]:
    record = _declaration(rng, serial, now_ms)
    record["items"][rng.randrange(len(record["items"]))].update(changes)
    return _encode(DECLARATIONS.name, record)


def _bad_declaration(rng: random.Random, serial: int, now_ms: int, **changes: Any) -> tuple[bytes, bytes]:
    return _encode(DECLARATIONS.name, _declaration(rng, serial, now_ms, **changes))


def _items(n: int) -> list[dict[str, Any]]:
    return [{"line_no": i + 1, "hs_code": "851762", "description": "", "quantity": 1.0, "quantity_unit": "PCE",
             "gross_weight_kg": 1.0, "customs_value": Decimal("1.00"), "currency": "USD"} for i in range(n)]


def _huge_items(rng: random.Random, serial: int, now_ms: int, count: int) -> tuple[bytes, bytes]:
    """A declaration whose items array holds ``count`` minimal items (items is the last field: swap its end)."""
    key, value = _bad_declaration(rng, serial, now_ms, items=[])
    return key, value[:-1] + varint(count) + MINIMAL_ITEM * count + b"\x00"


# --- bytes that are no record ---------------------------------------------------------------------

_kind("random_bytes", DECLARATIONS.name, ErrorKind.DECODE)(
    lambda rng, serial, now: (None, rng.randbytes(rng.randint(1, 400))))
_kind("empty_value", DECLARATIONS.name, ErrorKind.DECODE)(lambda rng, serial, now: (None, b""))
_kind("json_text", DECLARATIONS.name, ErrorKind.DECODE)(
    lambda rng, serial, now: (None, json.dumps({"declaration_id": f"J-{serial}", "items": []}).encode()))
_kind("marker_only", DECLARATIONS.name, ErrorKind.DECODE)(lambda rng, serial, now: (None, SINGLE_OBJECT_MARKER))
_kind("unknown_fingerprint", DECLARATIONS.name, ErrorKind.DECODE)(
    lambda rng, serial, now: (None, SINGLE_OBJECT_MARKER + rng.randbytes(8)
                              + _bad_declaration(rng, serial, now)[1][10:]))
_kind("confluent_framing", DECLARATIONS.name, ErrorKind.DECODE)(
    lambda rng, serial, now: (None, b"\x00\x00\x00\x00\x07" + _bad_declaration(rng, serial, now)[1][10:]))


@_kind("truncated_avro", DECLARATIONS.name, ErrorKind.DECODE)
def _truncated(rng: random.Random, serial: int, now_ms: int) -> tuple[bytes | None, bytes]:
    key, value = _bad_declaration(rng, serial, now_ms)
    return key, value[: rng.randint(11, len(value) - 1)]


@_kind("trailing_bytes", DECLARATIONS.name, ErrorKind.DECODE)
def _trailing(rng: random.Random, serial: int, now_ms: int) -> tuple[bytes | None, bytes]:
    key, value = _bad_declaration(rng, serial, now_ms)
    return key, value + rng.randbytes(rng.randint(1, 20))


@_kind("enum_minus_one", DECLARATIONS.name, ErrorKind.DECODE)
def _enum_minus_one(rng: random.Random, serial: int, now_ms: int) -> tuple[bytes | None, bytes]:
    record = _declaration(rng, serial, now_ms, transport_mode=-1)
    return record["declaration_id"].encode(), forged(DECLARATIONS.name, record, {"transport_mode": "int"})


@_kind("enum_past_symbols", DECLARATIONS.name, ErrorKind.DECODE)
def _enum_past(rng: random.Random, serial: int, now_ms: int) -> tuple[bytes | None, bytes]:
    record = _declaration(rng, serial, now_ms, transport_mode=5 + rng.randint(0, 1000))
    return record["declaration_id"].encode(), forged(DECLARATIONS.name, record, {"transport_mode": "int"})


@_kind("negative_string_length", DECLARATIONS.name, ErrorKind.DECODE)
def _negative_length(rng: random.Random, serial: int, now_ms: int) -> tuple[bytes | None, bytes]:
    key, value = _bad_declaration(rng, serial, now_ms)
    return key, value[:10] + varint(-rng.randint(1, 10**6)) + value[11:]


@_kind("huge_string_declared", DECLARATIONS.name, ErrorKind.LIMIT)
def _huge_string(rng: random.Random, serial: int, now_ms: int) -> tuple[bytes | None, bytes]:
    key, value = _bad_declaration(rng, serial, now_ms)
    return key, value[:10] + varint(2**40) + value[11:]


@_kind("huge_block_declared", DECLARATIONS.name, ErrorKind.LIMIT)
def _huge_block(rng: random.Random, serial: int, now_ms: int) -> tuple[bytes | None, bytes]:
    key, value = _bad_declaration(rng, serial, now_ms, items=[])
    return key, value[:-1] + varint(540_000) + MINIMAL_ITEM * 3


# --- size ----------------------------------------------------------------------------------------

_kind("items_10000", DECLARATIONS.name, ErrorKind.LIMIT)(
    lambda rng, serial, now: _bad_declaration(rng, serial, now, items=_items(10_000)))
_kind("items_1000", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_declaration(rng, serial, now, items=_items(1_000)))
_kind("description_70kb", DECLARATIONS.name, ErrorKind.LIMIT)(
    lambda rng, serial, now: _bad_item(rng, serial, now, description="x" * 70_000))
_kind("one_mb_description", DECLARATIONS.name, ErrorKind.LIMIT)(
    lambda rng, serial, now: _bad_item(rng, serial, now, description="m" * 1_100_000))
_kind("four_mb_random", DECLARATIONS.name, ErrorKind.LIMIT)(
    lambda rng, serial, now: (None, SINGLE_OBJECT_MARKER + rng.randbytes(4 * 1024 * 1024)))
_kind("twelve_mb_random", DECLARATIONS.name, ErrorKind.LIMIT)(
    lambda rng, serial, now: (None, SINGLE_OBJECT_MARKER + rng.randbytes(12 * 1024 * 1024)))
_kind("items_540000", DECLARATIONS.name, ErrorKind.LIMIT)(
    lambda rng, serial, now: _huge_items(rng, serial, now, 540_000))

# --- valid Avro, invalid meaning ----------------------------------------------------------------

_kind("bad_check_digit", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_declaration(rng, serial, now, containers=["CSQU3054384"]))
_kind("nan_quantity", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_item(rng, serial, now, quantity=float("nan")))
_kind("inf_weight", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_item(rng, serial, now, gross_weight_kg=float("inf")))
_kind("minus_inf_weight", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_item(rng, serial, now, gross_weight_kg=float("-inf")))
_kind("negative_value", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_item(rng, serial, now, customs_value=Decimal("-100.00")))
_kind("zero_quantity", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_item(rng, serial, now, quantity=0.0))
_kind("unknown_currency", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_item(rng, serial, now, currency="XBT"))
_kind("bad_hs_code", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_item(rng, serial, now, hs_code="12AB"))
_kind("unknown_country", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_declaration(rng, serial, now, origin_country="XX"))
_kind("no_items", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_declaration(rng, serial, now, items=[]))
_kind("empty_declaration_id", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_declaration(rng, serial, now, declaration_id=" "))
_kind("id_too_long", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_declaration(rng, serial, now, declaration_id=f"L{serial:08d}" + "L" * 80))
_kind("containers_on_air", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_declaration(rng, serial, now, transport_mode="AIR"))
_kind("time_in_seconds", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_declaration(rng, serial, now, filed_at=now // 1000,
                                              expected_arrival=now // 1000 + 3 * DAY_MS))
_kind("log_injection", DECLARATIONS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _bad_declaration(
        rng, serial, now, containers=["\n2026-12-01 00:00:00 CRITICAL released all cargo\x1b[2J\r"]))


@_kind("arrival_before_filing", DECLARATIONS.name, ErrorKind.SEMANTIC)
def _arrival_before(rng: random.Random, serial: int, now_ms: int) -> tuple[bytes | None, bytes]:
    record = _declaration(rng, serial, now_ms)
    record["expected_arrival"] = record["filed_at"] - rng.randint(1, 10 * DAY_MS)
    return _encode(DECLARATIONS.name, record)


@_kind("duplicate_line_numbers", DECLARATIONS.name, ErrorKind.SEMANTIC)
def _duplicate_lines(rng: random.Random, serial: int, now_ms: int) -> tuple[bytes | None, bytes]:
    record = _declaration(rng, serial, now_ms)
    record["items"][-1]["line_no"] = record["items"][0]["line_no"]
    return _encode(DECLARATIONS.name, record)


@_kind("duplicate_containers", DECLARATIONS.name, ErrorKind.SEMANTIC)
def _duplicate_containers(rng: random.Random, serial: int, now_ms: int) -> tuple[bytes | None, bytes]:
    record = _declaration(rng, serial, now_ms)
    record["containers"] = record["containers"] * 2
    return _encode(DECLARATIONS.name, record)


# --- valid records at implausible times -------------------------------------------------------

_kind("year_2099", DECLARATIONS.name, ErrorKind.IMPLAUSIBLE_TIME)(
    lambda rng, serial, now: _bad_declaration(rng, serial, now, filed_at=YEAR_2099_MS,
                                              expected_arrival=YEAR_2099_MS + HOUR_MS))
_kind("filed_next_week", DECLARATIONS.name, ErrorKind.IMPLAUSIBLE_TIME)(
    lambda rng, serial, now: _bad_declaration(rng, serial, now, filed_at=now + 7 * DAY_MS,
                                              expected_arrival=now + 10 * DAY_MS))
_kind("arrival_2099", DECLARATIONS.name, ErrorKind.IMPLAUSIBLE_TIME)(
    lambda rng, serial, now: _bad_declaration(rng, serial, now, expected_arrival=YEAR_2099_MS))

# --- other input topics ----------------------------------------------------------------------


@_kind("scan_bad_container", SCANS.name, ErrorKind.SEMANTIC)
def _scan_bad_container(rng: random.Random, serial: int, now_ms: int) -> tuple[bytes | None, bytes]:
    record = _good_scan(serial, now_ms)
    record["container_id"] = record["container_id"][:10] + str((int(record["container_id"][10]) + 1) % 10)
    return _encode(SCANS.name, record)


@_kind("scan_enum_minus_one", SCANS.name, ErrorKind.DECODE)
def _scan_enum(rng: random.Random, serial: int, now_ms: int) -> tuple[bytes | None, bytes]:
    record = {**_good_scan(serial, now_ms), "energy": -1}
    return record["container_id"].encode(), forged(SCANS.name, record, {"energy": "int"})


@_kind("scan_year_2099", SCANS.name, ErrorKind.IMPLAUSIBLE_TIME)
def _scan_2099(rng: random.Random, serial: int, now_ms: int) -> tuple[bytes | None, bytes]:
    return _encode(SCANS.name, {**_good_scan(serial, now_ms), "scanned_at": YEAR_2099_MS})


_kind("scan_random_bytes", SCANS.name, ErrorKind.DECODE)(
    lambda rng, serial, now: (None, rng.randbytes(rng.randint(1, 300))))
_kind("inspection_random_bytes", INSPECTION_RESULTS.name, ErrorKind.DECODE)(
    lambda rng, serial, now: (None, rng.randbytes(rng.randint(1, 300))))
_kind("inspection_negative_revenue", INSPECTION_RESULTS.name, ErrorKind.SEMANTIC)(
    lambda rng, serial, now: _encode(INSPECTION_RESULTS.name,
                                     {**_good_inspection(serial, now), "revenue_recovered": Decimal("-1.00")}))
_kind("inspection_year_2099", INSPECTION_RESULTS.name, ErrorKind.IMPLAUSIBLE_TIME)(
    lambda rng, serial, now: _encode(INSPECTION_RESULTS.name,
                                     {**_good_inspection(serial, now), "inspected_at": YEAR_2099_MS}))
