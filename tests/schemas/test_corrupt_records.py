"""Property tests: corrupted records always fail with a ValidationError (or DecodeError) and a
reason, never with another exception; arbitrary bytes and text never crash the codec."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from zeikan.schemas.codec import codec_for, expanded_schema
from zeikan.schemas.contract import TOPICS
from zeikan.schemas.errors import DecodeError, LimitExceeded, ValidationError
from zeikan.schemas.examples import example_record
from zeikan.schemas.jsonl import dumps, parse_line, to_json
from zeikan.schemas.validation import validate

TOPIC_NAMES = sorted(TOPICS)
Key = str | int


@dataclass(frozen=True)
class Leaf:
    """One scalar value inside an example record: where it is and what Avro type it has."""

    keys: tuple[Key, ...]
    path: str
    kind: str
    nullable: bool


def _leaves(schema: Any, value: Any, keys: tuple[Key, ...] = (), path: str = "",
            nullable: bool = False) -> Iterator[Leaf]:
    if isinstance(schema, list):
        (inner,) = [branch for branch in schema if branch != "null"]
        yield from _leaves(inner, value, keys, path, nullable=True)
        return
    node = {"type": schema} if isinstance(schema, str) else schema
    if isinstance(node["type"], (dict, list)):
        yield from _leaves(node["type"], value, keys, path, nullable)
        return
    kind = node.get("logicalType") or node["type"]
    if kind == "record":
        for field in node["fields"]:
            if field["name"] in value:
                name = field["name"]
                yield from _leaves(field["type"], value[name], (*keys, name), f"{path}.{name}".lstrip("."))
    elif kind == "array":
        for index, item in enumerate(value):
            yield from _leaves(node["items"], item, (*keys, index), f"{path}[{index}]")
    elif kind == "map":
        for key, item in value.items():
            yield from _leaves(node["values"], item, (*keys, key), f"{path}[{key!r}]")
    elif value is not None:
        yield Leaf(keys, path, kind, nullable)


def _set(record: dict, keys: tuple[Key, ...], value: Any) -> None:
    target: Any = record
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value


def _get(record: dict, keys: tuple[Key, ...]) -> Any:
    target: Any = record
    for key in keys:
        target = target[key]
    return target


# Values that are of the wrong type for each Avro type, in memory and in JSON (after from_json).
_WRONG_IN_MEMORY: dict[str, list[Any]] = {
    "string": [5, 1.5, [], {}, b"x", True, Decimal("1")],
    "enum": [5, ["SEA"], None, True],
    "int": ["5", 1.5, True, [], 2**70, Decimal("1")],
    "long": ["5", 1.5, False, {}, 2**70],
    "timestamp-millis": ["2024-03-01T08:00:00Z", 1.7e12, None],
    "double": ["0.5", True, [], Decimal("0.5")],
    "boolean": [1, "true", 0.0],
    "decimal": [1.5, "1.00", 5, Decimal("NaN"), Decimal("1e20")],
    "bytes": ["text", 5, [1]],
}
_WRONG_IN_JSON: dict[str, list[Any]] = {
    "string": [5, 1.5, [], {}, True],
    "enum": [5, ["SEA"], True],
    "int": ["5", 1.5, True, [], 2**70],
    "long": ["5", 1.5, False, {}, 2**70],
    "timestamp-millis": ["soon", "2024-03-01", 1.5],
    "double": ["0.5", True, []],
    "boolean": [1, "true", 0.0],
    "decimal": [True, [], "cheap", {"v": 1}],
    "bytes": ["!!not-base64", 5],
}
_NON_NEGATIVE = {"quantity", "gross_weight_kg", "customs_value", "revenue_recovered", "risk_score",
                 "tabular", "rules", "anomaly_score"}
_LIMITED = {"declaration_id": 64, "office_id": 64, "importer_id": 64, "scan_id": 64, "officer_id": 64,
            "description": 512, "note": 2000, "decision_id": 64, "inspection_id": 64}


@dataclass(frozen=True)
class Case:
    """A corrupted input and the call that must reject it."""

    what: str
    run: Callable[[], object]
    kind: str
    field: str | None = None


def _pick(draw: st.DrawFn, topic: str, accept: Callable[[Leaf], bool]) -> tuple[str, dict, Leaf]:
    """A leaf of ``topic``'s example that ``accept`` takes, else one of the declaration example's."""
    for name in (topic, "declarations"):
        record = example_record(name)
        candidates = [leaf for leaf in _leaves(expanded_schema(name), record) if accept(leaf)]
        if candidates:
            return name, record, draw(st.sampled_from(candidates))
    raise AssertionError("no example record has such a field")


@st.composite
def corrupted(draw: st.DrawFn) -> Case:
    """One corrupted record of a random topic, of one of eight kinds of corruption."""
    topic = draw(st.sampled_from(TOPIC_NAMES))
    record = example_record(topic)
    category = draw(st.sampled_from(
        ["json-text", "memory-type", "json-type", "check-digit", "negative", "enum", "oversize", "avro"]))
    if category == "json-text":
        line = dumps(topic, record)
        cut = draw(st.integers(0, len(line) - 1))
        junk = draw(st.sampled_from(["", ",", "\x00", ":"]))  # a cut object never becomes valid
        return Case(category, lambda: parse_line(topic, line[:cut] + junk), "DECODE")
    if category in ("memory-type", "json-type"):
        table = _WRONG_IN_MEMORY if category == "memory-type" else _WRONG_IN_JSON
        topic, record, leaf = _pick(draw, topic, lambda leaf: leaf.kind in table)
        wrong = draw(st.sampled_from([v for v in table[leaf.kind] if not (v is None and leaf.nullable)]))
        if category == "memory-type":
            _set(record, leaf.keys, wrong)
            return Case(category, lambda: validate(topic, record), "SCHEMA", leaf.path)
        tree = to_json(topic, record)
        _set(tree, leaf.keys, wrong)
        return Case(category, lambda: parse_line(topic, json.dumps(tree)), "SCHEMA", leaf.path)
    if category == "check-digit":
        topic, record, leaf = _pick(draw, topic, lambda leaf: leaf.kind == "string" and "container" in leaf.path)
        cid = _get(record, leaf.keys)
        digit = draw(st.sampled_from([d for d in "0123456789" if d != cid[-1]]))
        _set(record, leaf.keys, cid[:-1] + digit)
        return Case(category, lambda: validate(topic, record), "SEMANTIC", leaf.path)
    if category == "negative":
        topic, record, leaf = _pick(
            draw, topic, lambda leaf: leaf.keys[-1] in _NON_NEGATIVE and leaf.kind in ("double", "decimal"))
        amount = draw(st.floats(min_value=1e-6, max_value=1e12))
        _set(record, leaf.keys, -Decimal("%.2f" % amount) - Decimal("0.01") if leaf.kind == "decimal" else -amount)
        return Case(category, lambda: validate(topic, record), "SEMANTIC", leaf.path)
    if category == "enum":
        topic, record, leaf = _pick(draw, topic, lambda leaf: leaf.kind == "enum")
        symbol = draw(st.text(min_size=0, max_size=12))
        _set(record, leaf.keys, symbol + "_UNKNOWN")
        return Case(category, lambda: validate(topic, record), "SCHEMA", leaf.path)
    if category == "oversize":
        topic, record, leaf = _pick(draw, topic, lambda leaf: leaf.keys[-1] in _LIMITED and leaf.kind == "string")
        limit = _LIMITED[str(leaf.keys[-1])]
        _set(record, leaf.keys, "x" * draw(st.integers(limit + 1, limit + 5000)))
        return Case(category, lambda: validate(topic, record), "SEMANTIC", leaf.path)
    data = codec_for(topic).encode(record)
    how = draw(st.sampled_from(["truncate", "header", "trailing"]))
    if how == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif how == "header":
        position = draw(st.integers(0, 9))
        data = data[:position] + bytes([data[position] ^ draw(st.integers(1, 255))]) + data[position + 1:]
    else:
        data = data + draw(st.binary(min_size=1, max_size=16))
    return Case(f"avro-{how}", lambda: codec_for(topic).decode(data), "DECODE")


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupted())
def test_every_corrupted_record_is_rejected_with_a_reason(case: Case) -> None:
    event(case.what)
    with pytest.raises(ValidationError) as caught:
        case.run()
    error = caught.value
    assert error.kind == case.kind, (case.what, str(error))
    if case.kind == "DECODE":
        assert isinstance(error, DecodeError)
    if case.field is not None:
        assert error.field == case.field, (case.what, str(error))
    assert error.reason and str(error)


@settings(max_examples=300, deadline=None)
@given(topic=st.sampled_from(TOPIC_NAMES), flips=st.lists(st.tuples(st.integers(0), st.integers(1, 255)),
                                                         min_size=1, max_size=4))
def test_garbled_avro_bodies_decode_or_fail_with_decode_or_limit_error(topic: str, flips: list[tuple[int, int]]) -> None:
    data = bytearray(codec_for(topic).encode(example_record(topic)))
    for position, mask in flips:
        index = 10 + position % (len(data) - 10)
        data[index] ^= mask
    try:
        record = codec_for(topic).decode(bytes(data))
    except (DecodeError, LimitExceeded) as error:  # a garbled length may declare a huge string
        assert error.reason
        return
    try:
        validate(topic, record)
    except ValidationError as error:
        assert error.kind in ("SCHEMA", "SEMANTIC") and error.reason


@settings(max_examples=300, deadline=None)
@given(topic=st.sampled_from(TOPIC_NAMES), data=st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_decode_or_limit_error(topic: str, data: bytes) -> None:
    for framing, schema_id in (("single-object", None), ("confluent", 1)):
        codec = codec_for(topic, framing, schema_id)
        try:
            codec.decode(codec.encode(example_record(topic))[:10] + data)
        except (DecodeError, LimitExceeded) as error:
            assert error.reason


@settings(max_examples=300, deadline=None)
@given(topic=st.sampled_from(TOPIC_NAMES), line=st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_arbitrary_lines_never_raise_anything_but_validation_error(topic: str, line: str | bytes) -> None:
    try:
        parse_line(topic, line)
    except ValidationError as error:
        assert error.reason
