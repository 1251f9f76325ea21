"""Schema evolution rules of the contract: add fields with defaults only.

A change is compatible in both directions (a new reader reads old records, an old reader
reads new records) when every added field has a default, every removed field had one,
and no field changes its type, enum symbols or logical type.

>>> old = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"}]}
>>> new = {**old, "fields": old["fields"] + [{"name": "b", "type": "int", "default": 0}]}
>>> evolution_problems(old, new)
[]
"""

from __future__ import annotations

from typing import Any

import fastavro
from fastavro.schema import SchemaParseException

from zeikan.schemas.errors import IncompatibleSchema


def check_evolution(old: dict, new: dict) -> None:
    """Raise :class:`IncompatibleSchema` unless ``new`` is a compatible evolution of ``old``."""
    problems = evolution_problems(old, new)
    if problems:
        raise IncompatibleSchema(problems)


def evolution_problems(old: dict, new: dict) -> list[str]:
    """Every reason why ``new`` cannot replace ``old`` (empty when it can)."""
    try:
        old_expanded = fastavro.parse_schema(old, expand=True, _write_hint=False)
        new_expanded = fastavro.parse_schema(new, expand=True, _write_hint=False)
    except (SchemaParseException, KeyError, TypeError, ValueError) as exc:
        return [f"schema does not parse: {exc}"]
    problems: list[str] = []
    _compare(old_expanded, new_expanded, "", problems)
    return problems


def _node(schema: Any) -> dict:
    """A schema node as a dict (``"string"`` -> ``{"type": "string"}``), unwrapping ``{"type": {...}}``."""
    if isinstance(schema, str):
        return {"type": schema}
    if isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)):
        return _node(schema["type"])
    return schema if isinstance(schema, dict) else {"type": "union", "branches": schema}


def _compare(old: Any, new: Any, path: str, problems: list[str]) -> None:
    a, b = _node(old), _node(new)
    where = path or "<root>"
    if a["type"] != b["type"]:
        problems.append(f"{where}: type changed from {a['type']} to {b['type']}")
        return
    if a.get("logicalType") != b.get("logicalType"):
        problems.append(f"{where}: logical type changed from {a.get('logicalType')} to {b.get('logicalType')}")
    kind = a["type"]
    if kind == "record":
        _compare_records(a, b, path, problems)
    elif kind == "enum":
        _compare_enums(a, b, where, problems)
    elif kind == "array":
        _compare(a["items"], b["items"], f"{path}[]", problems)
    elif kind == "map":
        _compare(a["values"], b["values"], f"{path}{{}}", problems)
    elif kind == "union":
        if len(a["branches"]) != len(b["branches"]):
            problems.append(f"{where}: union branches changed")
            return
        for index, (x, y) in enumerate(zip(a["branches"], b["branches"])):
            _compare(x, y, f"{path}<{index}>", problems)
    elif kind == "fixed" and a.get("size") != b.get("size"):
        problems.append(f"{where}: fixed size changed from {a.get('size')} to {b.get('size')}")
    elif kind == "bytes" and (a.get("precision"), a.get("scale")) != (b.get("precision"), b.get("scale")):
        problems.append(f"{where}: decimal precision/scale changed")


def _compare_records(old: dict, new: dict, path: str, problems: list[str]) -> None:
    old_fields = {f["name"]: f for f in old["fields"]}
    new_fields = {f["name"]: f for f in new["fields"]}
    prefix = f"{path}." if path else ""
    for name, field in new_fields.items():
        if name not in old_fields:
            if "default" not in field:
                problems.append(f"{prefix}{name}: added without a default (old records cannot be read)")
        else:
            _compare(old_fields[name]["type"], field["type"], f"{prefix}{name}", problems)
    for name, field in old_fields.items():
        if name not in new_fields and "default" not in field:
            problems.append(f"{prefix}{name}: removed but had no default (old readers cannot read new records)")


def _compare_enums(old: dict, new: dict, where: str, problems: list[str]) -> None:
    removed = [s for s in old["symbols"] if s not in new["symbols"]]
    added = [s for s in new["symbols"] if s not in old["symbols"]]
    if removed:
        problems.append(f"{where}: enum symbols removed: {', '.join(removed)}")
    if added and "default" not in old:
        problems.append(f"{where}: enum symbols added ({', '.join(added)}) but the old enum has no default")
