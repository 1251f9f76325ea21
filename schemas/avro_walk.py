"""A walk over Avro binary along the writer schema that reads only lengths, counts and indexes.

It runs before a record is decoded, so hostile bytes are refused without being
materialised: a string, bytes, array or map over a limit of :class:`Limits` (the declared
length or block count is enough, at the first excess), an enum index outside its symbols
or a union index outside its branches (fastavro reads ``-1`` as the last one), a negative
length, a body that ends early. Nothing is allocated per item.

Each schema is compiled once into Python source (one function, no per-field calls), so
a typical declaration costs a few microseconds.

>>> from zeikan.schemas.limits import Limits
>>> walk = compile_walker({"type": "record", "name": "R", "fields": [
...     {"name": "tags", "type": {"type": "array", "items": "string"}}]})
>>> walk(bytes([2, 2, ord("a"), 0]), 0, Limits())  # one block of one string "a", then the end block
4
>>> try:
...     walk(bytes([0xC0, 0xF5, 0x41]), 0, Limits())  # a block that declares 540,000 items
... except Refused as refused:
...     print(refused)
LIMIT tags: 540000 items, the limit is 1000
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zeikan.schemas.errors import ErrorKind
from zeikan.schemas.limits import Limits

Walker = Callable[[Any, int, Limits], int]
"""``walk(data, start, limits) -> end``: where the record starting at ``start`` ends; raises :class:`Refused`."""

MAX_NESTING = 32
"""Deepest schema nesting compiled (the contract's schemas nest 4 deep)."""


class Refused(Exception):
    """Internal to the codec: why the bytes were refused (``kind`` is DECODE or LIMIT) and where."""

    def __init__(self, kind: ErrorKind, field: str, reason: str) -> None:
        super().__init__(f"{kind} {field}: {reason}" if field else f"{kind} {reason}")
        self.kind = kind
        self.field = field
        self.reason = reason


def _long_tail(data: Any, p: int, first: int) -> tuple[int, int]:
    """Finish a zigzag varint whose first byte ``first`` had the continuation bit; (value, position)."""
    n = first & 0x7F
    shift = 7
    while True:
        b = data[p]
        p += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return (n >> 1) ^ -(n & 1), p
        shift += 7
        if shift > 63:
            raise Refused(ErrorKind.DECODE, "", "a varint longer than 10 bytes")


def _bad(field: str, reason: str) -> None:
    raise Refused(ErrorKind.DECODE, field, reason)


def _limit(field: str, reason: str) -> None:
    raise Refused(ErrorKind.LIMIT, field, reason)


class _Source:
    """The lines of the generated walker, with fresh variable names."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.serial = 0

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def fresh(self, stem: str) -> str:
        self.serial += 1
        return f"{stem}{self.serial}"

    def read_long(self, depth: int, target: str = "n") -> None:
        self.emit(depth, "b = d[p]; p += 1")
        self.emit(depth, f"if b < 128: {target} = (b >> 1) ^ -(b & 1)")
        self.emit(depth, f"else: {target}, p = _long_tail(d, p, b)")

    def skip_long(self, depth: int) -> None:
        self.emit(depth, "while d[p] >= 128: p += 1")
        self.emit(depth, "p += 1")


def _node(schema: Any) -> dict:
    if isinstance(schema, str):
        return {"type": schema}
    if isinstance(schema, list):
        return {"type": "union", "branches": schema}
    if isinstance(schema.get("type"), (dict, list)):
        return _node(schema["type"])
    return schema


def _emit(src: _Source, schema: Any, path: str, depth: int, nesting: int) -> None:
    if nesting > MAX_NESTING:
        raise ValueError(f"schema nests deeper than {MAX_NESTING} levels at {path or '<root>'}")
    node = _node(schema)
    kind = node["type"]
    where = repr(path)
    if kind in ("int", "long"):
        src.skip_long(depth)
    elif kind in ("string", "bytes"):
        src.read_long(depth)
        src.emit(depth, f"if n < 0: _bad({where}, f'negative length {{n}}')")
        src.emit(depth, f"if n > max_str: _limit({where}, f'{{n}} bytes, the limit is {{max_str}}')")
        src.emit(depth, "p += n")
    elif kind in ("float", "double", "boolean", "fixed"):
        size = {"float": 4, "double": 8, "boolean": 1}.get(kind) or int(node["size"])
        src.emit(depth, f"p += {size}")
    elif kind == "null":
        pass
    elif kind == "enum":
        count = len(node["symbols"])
        src.read_long(depth)
        src.emit(depth, f"if not 0 <= n < {count}: _bad({where}, f'enum index {{n}} is not in 0..{count - 1}')")
    elif kind == "union":
        branches = node["branches"]
        src.read_long(depth)
        for index, branch in enumerate(branches):
            src.emit(depth, f"{'if' if index == 0 else 'elif'} n == {index}:")
            before = len(src.lines)
            _emit(src, branch, path, depth + 1, nesting + 1)
            if len(src.lines) == before:
                src.emit(depth + 1, "pass")
        src.emit(depth, f"else: _bad({where}, f'union index {{n}} is not in 0..{len(branches) - 1}')")
    elif kind == "record":
        prefix = f"{path}." if path else ""
        for field in node["fields"]:
            _emit(src, field["type"], f"{prefix}{field['name']}", depth, nesting + 1)
    elif kind in ("array", "map"):
        _emit_collection(src, node, path, depth, nesting)
    else:
        raise ValueError(f"unsupported Avro type {kind!r} at {path or '<root>'}")


def _emit_collection(src: _Source, node: dict, path: str, depth: int, nesting: int) -> None:
    """Blocks of ``count`` items (a negative count is followed by the block's byte size), ending at 0."""
    seen = src.fresh("c")
    where = repr(path)
    noun = "items" if node["type"] == "array" else "entries"
    src.emit(depth, f"{seen} = 0")
    src.emit(depth, "while True:")
    inner = depth + 1
    src.read_long(inner)
    src.emit(inner, "if n == 0: break")
    src.emit(inner, "if n < 0:")
    src.emit(inner + 1, "n = -n")
    src.skip_long(inner + 1)
    src.emit(inner, f"{seen} += n")
    src.emit(inner, f"if {seen} > max_coll: _limit({where}, f'{{{seen}}} {noun}, the limit is {{max_coll}}')")
    src.emit(inner, "total += n")
    src.emit(inner, f"if total > max_total: _limit({where}, f'{{total}} items in the record, the limit is {{max_total}}')")
    src.emit(inner, "for _ in range(n):")
    before = len(src.lines)
    if node["type"] == "map":
        _emit(src, "string", f"{path}{{}}", inner + 1, nesting + 1)
        _emit(src, node["values"], f"{path}{{}}", inner + 1, nesting + 1)
    else:
        _emit(src, node["items"], f"{path}[]", inner + 1, nesting + 1)
    if len(src.lines) == before:
        src.emit(inner + 1, "pass")


def compile_walker(schema: Any) -> Walker:
    """The walker of records written with ``schema`` (an *expanded* schema: named types inline)."""
    src = _Source()
    src.emit(0, "def walk(d, p, limits):")
    src.emit(1, "max_coll = limits.max_collection_items")
    src.emit(1, "max_total = limits.max_total_items")
    src.emit(1, "max_str = limits.max_string_bytes")
    src.emit(1, "total = 0")
    _emit(src, schema, "", 1, 0)
    src.emit(1, "if p > len(d): _bad('', f'the body ends {p - len(d)} bytes early')")
    src.emit(1, "return p")
    namespace: dict[str, Any] = {"_long_tail": _long_tail, "_bad": _bad, "_limit": _limit}
    exec(compile("\n".join(src.lines), "<avro walker>", "exec"), namespace)  # noqa: S102 - code built from the schema only
    walk: Walker = namespace["walk"]
    return walk
