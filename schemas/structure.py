"""Schema-driven walks over records: type checks with field paths, money quantizing, logical types.

Every function here takes an *expanded* JSON schema (``fastavro.parse_schema(s, expand=True)``
or a plain ``.avsc`` without named references) and builds, once, a closure that is then
applied to each record: no per-record schema interpretation.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from zeikan.schemas.errors import ValidationError

Checker = Callable[[Any], None]
Transform = Callable[[Any], Any]

_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


class _Bad(Exception):
    """Internal: a structural failure; the path is filled in while it unwinds."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.parts: list[str] = []

    def at(self, part: str) -> _Bad:
        self.parts.append(part)
        return self

    @property
    def path(self) -> str:
        return "".join(reversed(self.parts)).lstrip(".")


def _type_name(value: Any) -> str:
    return type(value).__name__


def strip_logical_type(schema: Any, logical_type: str) -> Any:
    """A copy of ``schema`` without ``logical_type`` annotations (the wire format is unchanged)."""
    stripped = copy.deepcopy(schema)

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(branch) for branch in node]
        if not isinstance(node, dict):
            return node
        if node.get("logicalType") == logical_type:
            node = {k: v for k, v in node.items() if k != "logicalType"}
        for key in ("type", "items", "values"):
            if key in node and not isinstance(node[key], str):
                node[key] = walk(node[key])
        if "fields" in node:
            node["fields"] = [{**field, "type": walk(field["type"])} for field in node["fields"]]
        return node

    return walk(stripped)


def to_decimal(value: Any, scale: int) -> Decimal:
    """``value`` (Decimal, int, float or numeric string) as a Decimal rounded half-up to ``scale`` places."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError(f"expected a decimal number, got {_type_name(value)}")
    else:
        number = Decimal(repr(value) if isinstance(value, float) else value)
    if not number.is_finite():
        raise ValueError(f"{number} is not a finite amount")
    return number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)


def _is_decimal(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("logicalType") == "decimal"


def compile_transform(schema: Any, leaf: Callable[[dict], Transform | None]) -> Transform | None:
    """A function applying ``leaf(schema_node)`` to every matching value inside a record.

    ``leaf`` returns a per-value function for schema nodes it handles (e.g. decimals) or
    ``None``. The result copies only the containers on the way to a changed value and is
    ``None`` when the schema holds no matching node, so callers can skip the walk.
    """
    if isinstance(schema, str):
        schema = {"type": schema}
    if isinstance(schema, dict):
        own = leaf(schema)
        if own is not None:
            return own
        kind = schema.get("type")
        if isinstance(kind, (dict, list)):
            return compile_transform(kind, leaf)
        if kind == "record":
            subs = [(f["name"], t) for f in schema["fields"]
                    if (t := compile_transform(f["type"], leaf)) is not None]
            return _record_transform(subs) if subs else None
        if kind == "array":
            item = compile_transform(schema["items"], leaf)
            return None if item is None else (
                lambda v: [item(x) for x in v] if isinstance(v, (list, tuple)) else v)
        if kind == "map":
            value = compile_transform(schema["values"], leaf)
            return None if value is None else (
                lambda v: {k: value(x) for k, x in v.items()} if isinstance(v, dict) else v)
        return None
    if isinstance(schema, list):
        branches = [t for branch in schema if (t := compile_transform(branch, leaf)) is not None]
        if len(branches) > 1:
            raise ValueError("a union with several transformable branches is ambiguous")
        if not branches:
            return None
        only = branches[0]
        return lambda v: v if v is None else only(v)
    return None


def _record_transform(subs: list[tuple[str, Transform]]) -> Transform:
    def transform(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = dict(value)
        for name, sub in subs:
            if name in out:
                out[name] = sub(out[name])
        return out

    return transform


def compile_quantizer(schema: Any) -> Transform | None:
    """A function returning a copy of a record with every decimal rounded to its schema scale."""

    def leaf(node: dict) -> Transform | None:
        if not _is_decimal(node):
            return None
        scale = int(node.get("scale", 0))
        return lambda v: to_decimal(v, scale)

    return compile_transform(schema, leaf)


def compile_checker(schema: Any, topic: str = "") -> Checker:
    """A function that raises ``ValidationError`` (kind ``SCHEMA``, with the field path) when a
    record does not match ``schema``: types, required fields, unknown fields, enum symbols,
    int/long ranges, decimal precision. Times must be ``int`` millis, money ``Decimal``."""
    check = _checker(schema)

    def check_record(record: Any) -> None:
        try:
            check(record)
        except _Bad as bad:
            raise ValidationError("SCHEMA", bad.path, bad.reason, topic) from None

    return check_record


def _checker(schema: Any) -> Checker:
    if isinstance(schema, list):
        return _union_checker([_checker(branch) for branch in schema], schema)
    if isinstance(schema, str):
        return _primitive_checker(schema)
    if _is_decimal(schema):
        return _decimal_checker(int(schema["precision"]), int(schema.get("scale", 0)))
    kind = schema["type"]
    if isinstance(kind, (dict, list)):
        return _checker(kind)
    if kind == "record":
        return _record_checker(schema)
    if kind == "array":
        return _array_checker(_checker(schema["items"]))
    if kind == "map":
        return _map_checker(_checker(schema["values"]))
    if kind == "enum":
        return _enum_checker(schema["symbols"])
    if kind == "fixed":
        return _fixed_checker(int(schema["size"]))
    return _primitive_checker(kind)


def _primitive_checker(kind: str) -> Checker:
    if kind in _INT_RANGE:
        low, high = _INT_RANGE[kind]

        def check_int(v: Any) -> None:
            if type(v) is not int:
                raise _Bad(f"expected an integer ({kind}), got {_type_name(v)}")
            if not low <= v <= high:
                raise _Bad(f"{v} is out of the {kind} range")

        return check_int
    expected: dict[str, tuple[type, ...]] = {
        "null": (type(None),), "boolean": (bool,), "string": (str,),
        "bytes": (bytes, bytearray), "float": (int, float), "double": (int, float),
    }
    if kind not in expected:
        raise ValueError(f"unsupported Avro type {kind!r}")
    allowed = expected[kind]
    reject_bool = kind in ("float", "double")

    def check(v: Any) -> None:
        if not isinstance(v, allowed) or (reject_bool and isinstance(v, bool)):
            raise _Bad(f"expected {kind}, got {_type_name(v)}")

    return check


def _decimal_checker(precision: int, scale: int) -> Checker:
    limit = Decimal(10) ** (precision - scale)

    def check(v: Any) -> None:
        if not isinstance(v, Decimal):
            raise _Bad(f"expected a Decimal amount, got {_type_name(v)}")
        if not v.is_finite():
            raise _Bad(f"{v} is not a finite amount")
        if abs(v) >= limit:
            raise _Bad(f"{v} does not fit decimal({precision},{scale})")

    return check


def _enum_checker(symbols: list[str]) -> Checker:
    allowed = frozenset(symbols)

    def check(v: Any) -> None:
        if not isinstance(v, str) or v not in allowed:
            raise _Bad(f"{v!r} is not one of {', '.join(symbols)}")

    return check


def _fixed_checker(size: int) -> Checker:
    def check(v: Any) -> None:
        if not isinstance(v, (bytes, bytearray)) or len(v) != size:
            raise _Bad(f"expected {size} bytes, got {_type_name(v)}")

    return check


def _array_checker(item: Checker) -> Checker:
    def check(v: Any) -> None:
        if not isinstance(v, (list, tuple)):
            raise _Bad(f"expected a list, got {_type_name(v)}")
        for index, element in enumerate(v):
            try:
                item(element)
            except _Bad as bad:
                raise bad.at(f"[{index}]") from None

    return check


def _map_checker(value: Checker) -> Checker:
    def check(v: Any) -> None:
        if not isinstance(v, dict):
            raise _Bad(f"expected a map (object), got {_type_name(v)}")
        for key, element in v.items():
            if not isinstance(key, str):
                raise _Bad(f"map key {key!r} is not a string")
            try:
                value(element)
            except _Bad as bad:
                raise bad.at(f"[{key!r}]") from None

    return check


def _record_checker(schema: dict) -> Checker:
    fields = [(f["name"], _checker(f["type"]), "default" not in f) for f in schema["fields"]]
    names = frozenset(name for name, _, _ in fields)
    record_name = schema.get("name", "record")

    def check(v: Any) -> None:
        if not isinstance(v, dict):
            raise _Bad(f"expected a {record_name} record (object), got {_type_name(v)}")
        for name, field_check, required in fields:
            if name in v:
                try:
                    field_check(v[name])
                except _Bad as bad:
                    raise bad.at(f".{name}") from None
            elif required:
                raise _Bad("missing required field").at(f".{name}")
        if not names.issuperset(v):
            unknown = sorted(str(k) for k in v if k not in names)
            raise _Bad(f"unknown field (not in the {record_name} schema)").at(f".{unknown[0]}")

    return check


def _union_checker(branches: list[Checker], schema: list) -> Checker:
    nullable = "null" in schema
    others = [b for b, s in zip(branches, schema) if s != "null"]

    def check(v: Any) -> None:
        if v is None and nullable:
            return
        failure: _Bad | None = None
        for branch in others:
            try:
                branch(v)
                return
            except _Bad as bad:
                failure = bad
        if failure is not None and len(others) == 1:
            raise failure
        raise _Bad(f"{_type_name(v)} matches no branch of the union")

    return check
