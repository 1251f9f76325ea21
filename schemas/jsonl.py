"""JSON Lines files of the contract: one event per line, Avro field names, in schema order.

In JSON, times are epoch-millis integers (an ISO 8601 string with a zone is read too),
money is a number with 2 decimals (``12500.00``), bytes are base64 strings and nullable
fields are plain values (no Avro union wrapping). Paths may be local or any fsspec URL;
``.gz``/``.bz2``/... files are (de)compressed by their suffix.

>>> from zeikan.schemas.examples import example_record
>>> line = dumps("inspection-results", example_record("inspection-results"))
>>> line.endswith('"revenue_recovered": 1520.75, "random_selected": false}')
True
>>> from_json("inspection-results", json.loads(line)) == example_record("inspection-results")
True
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from os import PathLike
from typing import Any

import fsspec

from zeikan.schemas.codec import expanded_schema, topic_spec
from zeikan.schemas.errors import DecodeError, ValidationError
from zeikan.schemas.structure import Transform, compile_transform, to_decimal
from zeikan.schemas.validation import schema_check, validate

PathType = str | PathLike[str]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- JSON -> memory ----------------------------------------------------------------------------


def _from_json_leaf(node: dict) -> Transform | None:
    """Conversions from JSON values; a value that does not convert is left for validation to report."""
    logical, kind = node.get("logicalType"), node.get("type")
    if logical == "decimal":
        scale = int(node.get("scale", 0))
        return lambda v: _attempt(to_decimal, v, scale)
    if logical == "timestamp-millis":
        return _millis
    if kind in ("double", "float"):
        return lambda v: float(v) if isinstance(v, (int, Decimal)) and not isinstance(v, bool) else v
    if kind == "bytes":
        return _unbase64
    return None


def _attempt(convert: Callable[..., Any], value: Any, *args: Any) -> Any:
    try:
        return convert(value, *args)
    except (TypeError, ValueError, ArithmeticError):
        return value


def _millis(value: Any) -> Any:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return (moment - _EPOCH) // timedelta(milliseconds=1)
    return value


def _unbase64(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value


@cache
def _from_json_transform(topic: str) -> Transform | None:
    return compile_transform(expanded_schema(topic), _from_json_leaf)


def from_json(topic: str, obj: dict) -> dict:
    """The in-memory record of a parsed JSON object (``Decimal`` money, ``int`` millis, bytes).

    Only converts: values that cannot be converted are kept as they are, so that
    :func:`validate` names them. Raises :class:`ValidationError` when ``obj`` is not an object.
    """
    name = topic_spec(topic).name
    if not isinstance(obj, dict):
        raise ValidationError("SCHEMA", "", f"expected a JSON object, got {type(obj).__name__}", name)
    transform = _from_json_transform(name)
    return transform(obj) if transform else dict(obj)


# --- memory -> JSON ----------------------------------------------------------------------------


def _compile_jsonify(schema: Any, keep_decimal: bool) -> Transform | None:
    """A function building the JSON tree of a value in schema field order (``None``: identity)."""
    if isinstance(schema, list):
        branches = [b for branch in schema if (b := _compile_jsonify(branch, keep_decimal))]
        if not branches:
            return None
        only = branches[0]
        return lambda v: v if v is None else only(v)
    node = {"type": schema} if isinstance(schema, str) else schema
    kind = node["type"]
    if isinstance(kind, (dict, list)):
        return _compile_jsonify(kind, keep_decimal)
    if node.get("logicalType") == "decimal":
        scale = int(node.get("scale", 0))
        return (lambda v: to_decimal(v, scale)) if keep_decimal else (lambda v: float(to_decimal(v, scale)))
    if kind == "bytes":
        return lambda v: base64.b64encode(v).decode("ascii")
    if kind == "record":
        fields = [(f["name"], _compile_jsonify(f["type"], keep_decimal), f.get("default", _MISSING))
                  for f in node["fields"]]
        return lambda v: _jsonify_record(v, fields)
    if kind == "array":
        item = _compile_jsonify(node["items"], keep_decimal)
        return (lambda v: [item(x) for x in v]) if item else list
    if kind == "map":
        value = _compile_jsonify(node["values"], keep_decimal)
        return (lambda v: {k: value(x) for k, x in v.items()}) if value else dict
    return None


_MISSING = object()


def _jsonify_record(value: dict, fields: list[tuple[str, Transform | None, Any]]) -> dict:
    out = {}
    for name, sub, default in fields:
        if name in value:
            out[name] = sub(value[name]) if sub else value[name]
        elif default is not _MISSING:
            out[name] = default
        else:
            raise KeyError(name)
    return out


@cache
def _jsonify(topic: str, keep_decimal: bool) -> Transform:
    transform = _compile_jsonify(expanded_schema(topic), keep_decimal)
    assert transform is not None  # a record schema always has a transform
    return transform


def _json_tree(topic: str, record: dict, keep_decimal: bool) -> dict:
    name = topic_spec(topic).name
    try:
        return _jsonify(name, keep_decimal)(record)
    except Exception as exc:  # noqa: BLE001 - a record that does not fit the schema
        schema_check(name)(record)
        raise ValidationError("SCHEMA", "", f"cannot convert to JSON: {exc!r}", name) from exc


def to_json(topic: str, record: dict) -> dict:
    """A JSON-safe dict of an in-memory record, keys in schema order, money as a float of cents."""
    return _json_tree(topic, record, keep_decimal=False)


def dumps(topic: str, record: dict) -> str:
    """One JSON line (no newline) of ``record``: schema key order, money written with 2 decimals."""
    parts: list[str] = []
    try:
        _write(_json_tree(topic, record, keep_decimal=True), parts)
    except ValueError as exc:
        raise ValidationError("SEMANTIC", "", str(exc), topic) from None
    return "".join(parts)


def _write(value: Any, out: list[str]) -> None:
    """Append the JSON text of a JSON tree (which may hold ``Decimal`` amounts) to ``out``."""
    if isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif value is None or isinstance(value, (bool, int)):
        out.append(json.dumps(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} cannot be written as JSON")
        out.append(repr(value))
    elif isinstance(value, Decimal):
        out.append(format(value, "f"))
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            out.append(", " if index else "")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(": ")
            _write(item, out)
        out.append("}")
    else:
        out.append("[")
        for index, item in enumerate(value):
            out.append(", " if index else "")
            _write(item, out)
        out.append("]")


# --- files -------------------------------------------------------------------------------------


def parse_line(topic: str, line: bytes | str) -> dict:
    """The valid record of one JSON line; raises :class:`ValidationError` (DECODE, SCHEMA or SEMANTIC)."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
        obj = json.loads(text, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"not a JSON line ({exc})", topic) from None
    except RecursionError:
        raise DecodeError("JSON nested too deeply", topic) from None
    record = from_json(topic, obj)
    validate(topic, record)
    return record


def read_jsonl(path: PathType, topic: str) -> Iterator[tuple[int, dict | ValidationError]]:
    """Yield ``(line_no, record)`` for each non-blank line (1-based), or ``(line_no, error)`` for a
    bad one: a bad line never stops the reading."""
    name = topic_spec(topic).name
    with fsspec.open(path, "rb", compression="infer") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, parse_line(name, line)
            except ValidationError as error:
                yield line_no, error


def write_jsonl(path: PathType, topic: str, records: Iterable[dict], check: bool = True) -> int:
    """Write ``records`` as JSON Lines (validated first unless ``check`` is false); returns the count."""
    name = topic_spec(topic).name
    count = 0
    with fsspec.open(path, "wt", encoding="utf-8", newline="\n", compression="infer") as handle:
        for record in records:
            if check:
                validate(name, record)
            handle.write(dumps(name, record))
            handle.write("\n")
            count += 1
    return count
