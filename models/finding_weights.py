"""Training weight of a positive label by what its inspections found: kinds that inspections seldom find count more.

Inspections find some fraud kinds far less often than others (origin laundering: a
document check finds it 40 % of the time, a scan 5 %), and the legacy targeting seldom
inspects the declared origins that laundering uses, so a history holds a handful of
ORIGIN findings against hundreds of value findings. A positive label whose findings
include such a kind is weighted up by its factor (the largest factor of its kinds;
kinds without a factor count 1) so that the trees fit the pattern at all.

>>> weights = parse_finding_weights(("ORIGIN:4",))
>>> weights
{'ORIGIN': 4.0}
>>> [finding_factor(kinds, weights) for kinds in (["ORIGIN", "QUANTITY"], ["QUANTITY"], [])]
[4.0, 1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from zeikan.errors import InvalidSetting
from zeikan.schemas.codec import schema_json
from zeikan.schemas.contract import INSPECTION_RESULTS


def _enum_symbols(node: Any, name: str) -> tuple[str, ...]:
    """The symbols of the enum called ``name`` anywhere in a JSON schema (empty when there is none)."""
    if isinstance(node, Mapping):
        if node.get("type") == "enum" and node.get("name") == name:
            return tuple(node["symbols"])
        children: Iterable[Any] = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return ()
    for child in children:
        found = _enum_symbols(child, name)
        if found:
            return found
    return ()


@cache
def finding_kinds() -> tuple[str, ...]:
    """The finding kinds of the event contract (``FindingKind`` of the inspection-result schema)."""
    return _enum_symbols(schema_json(INSPECTION_RESULTS.name), "FindingKind")


def parse_finding_weights(spec: Sequence[str], setting: str = "finding_weights") -> dict[str, float]:
    """``KIND:factor`` entries as a mapping; a malformed entry, an unknown kind or a factor <= 0 is refused."""
    weights = {}
    for entry in spec:
        kind, _, factor = entry.partition(":")
        try:
            value = float(factor)
        except ValueError:
            raise InvalidSetting(setting, entry, "KIND:factor, e.g. ORIGIN:4") from None
        if kind not in finding_kinds():
            raise InvalidSetting(setting, entry, f"a finding kind of {', '.join(finding_kinds())}")
        if not value > 0:
            raise InvalidSetting(setting, entry, "a factor > 0")
        weights[kind] = value
    return weights


def finding_factor(kinds: Iterable[str], weights: Mapping[str, float]) -> float:
    """The weight factor of a label whose inspections found ``kinds``: the largest of theirs, 1 for none."""
    return max((weights.get(kind, 1.0) for kind in kinds), default=1.0)
