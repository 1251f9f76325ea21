"""Officer targeting rules in YAML: plain-language conditions, evaluated per declaration.

A rule file looks like::

    version: "2024-06"            # optional; default: hash of the file content
    rules:
      - id: phones-cn-low-value
        description: HS 8517 from CN declared below 20 per unit
        when:
          - hs_code starts with 8517
          - origin_country in [CN, HK]
          - unit_value < 20
        action: SCAN               # optional: minimum lane when the rule hits
        score: 0.8                 # optional: rules component score (default 0.5)

Each condition is ``<field> <operator> <value>``; operators: ``=``/``==``/``is``,
``!=``/``is not``, ``<``, ``<=``, ``>``, ``>=``, ``in``, ``not in``,
``starts with``, ``contains``. Item fields (``hs_code``, ``description``,
``quantity``, ``quantity_unit``, ``gross_weight_kg``, ``customs_value``,
``currency``, ``unit_value``, ``weight_per_unit``) must all hold on one and the
same item; other names are declaration fields (plus ``container_count``,
``item_count``) or features. A name that is none of these makes the condition false.

>>> book = parse_rules("rules: [{id: r1, when: ['origin_country = CN'], action: SCAN}]", "inline")
>>> book.evaluate({"origin_country": "CN", "items": []}, {}).hits
('r1',)
"""

from __future__ import annotations

import hashlib
import logging
import operator
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from zeikan.streams.engine.lanes import Action, parse_action, strongest
from zeikan.streams.errors import RulesError

log = logging.getLogger(__name__)

ITEM_FIELDS = frozenset(
    {
        "line_no",
        "hs_code",
        "description",
        "quantity",
        "quantity_unit",
        "gross_weight_kg",
        "customs_value",
        "currency",
        "unit_value",
        "weight_per_unit",
    }
)

_MISSING = object()


def _as_number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def _starts_with(left: Any, right: Any) -> bool:
    return str(left).startswith(str(right))


def _contains(left: Any, right: Any) -> bool:
    return str(right).lower() in str(left).lower()


def _member(left: Any, right: Any) -> bool:
    return left in right or str(left) in {str(v) for v in right}


def _not_member(left: Any, right: Any) -> bool:
    return not _member(left, right)


def _equal(left: Any, right: Any) -> bool:
    return left == right or str(left) == str(right)


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "starts with": _starts_with,
    "not in": _not_member,
    "is not": lambda a, b: not _equal(a, b),
    "contains": _contains,
    "in": _member,
    "is": _equal,
    "==": _equal,
    "=": _equal,
    "!=": lambda a, b: not _equal(a, b),
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}

_CONDITION = re.compile(
    r"^\s*(?P<field>[A-Za-z_][A-Za-z0-9_]*)\s+(?P<op>"
    + "|".join(re.escape(op) for op in OPERATORS)
    + r")\s+(?P<value>.+?)\s*$"
)


@dataclass(frozen=True)
class Condition:
    """One ``field operator value`` test."""

    field: str
    op: str
    value: Any
    text: str

    def holds(self, value: Any) -> bool:
        """Whether the condition holds for ``value`` (a missing value or type clash: False)."""
        if value is _MISSING or value is None:
            return False
        try:
            return bool(OPERATORS[self.op](_as_number(value), self.value))
        except TypeError:
            return False


@dataclass(frozen=True)
class Rule:
    """A named officer rule: all conditions must hold."""

    rule_id: str
    description: str
    declaration_conditions: tuple[Condition, ...]
    item_conditions: tuple[Condition, ...]
    action: Action | None
    score: float

    def matches(self, declaration: Mapping, features: Mapping[str, float]) -> bool:
        """Whether the rule hits ``declaration`` (with its ``features``)."""
        for cond in self.declaration_conditions:
            if not cond.holds(_declaration_value(declaration, features, cond.field)):
                return False
        if not self.item_conditions:
            return True
        return any(
            all(cond.holds(_item_value(item, cond.field)) for cond in self.item_conditions)
            for item in declaration.get("items", ())
        )


@dataclass(frozen=True)
class RuleOutcome:
    """What the rules say about one declaration."""

    hits: tuple[str, ...] = ()
    score: float = 0.0
    floor: Action | None = None
    reasons: tuple[str, ...] = ()
    floor_rules: tuple[str, ...] = ()
    """Ids of the rules that asked for ``floor`` (the most intrusive lane asked for)."""


@dataclass(frozen=True)
class RuleBook:
    """An immutable set of rules with its version."""

    version: str
    rules: tuple[Rule, ...]

    def evaluate(self, declaration: Mapping, features: Mapping[str, float]) -> RuleOutcome:
        """Rule hits, rules score (max over hits), minimum lane and plain reasons."""
        hit = [rule for rule in self.rules if rule.matches(declaration, features)]
        if not hit:
            return RuleOutcome()
        floor = strongest(*(rule.action for rule in hit)) if any(r.action for r in hit) else None
        return RuleOutcome(
            hits=tuple(rule.rule_id for rule in hit),
            score=max(rule.score for rule in hit),
            floor=floor,
            reasons=tuple(f"rule {rule.rule_id}: {rule.description}" for rule in hit),
            floor_rules=tuple(rule.rule_id for rule in hit if floor is not None and rule.action is floor),
        )


EMPTY_RULES = RuleBook(version="none", rules=())


def _item_value(item: Mapping, name: str) -> Any:
    if name == "unit_value":
        quantity = float(item.get("quantity") or 0)
        return float(item["customs_value"]) / quantity if quantity > 0 else _MISSING
    if name == "weight_per_unit":
        quantity = float(item.get("quantity") or 0)
        return float(item["gross_weight_kg"]) / quantity if quantity > 0 else _MISSING
    return item.get(name, _MISSING)


def _declaration_value(declaration: Mapping, features: Mapping[str, float], name: str) -> Any:
    if name == "container_count":
        return len(declaration.get("containers", ()))
    if name == "item_count":
        return len(declaration.get("items", ()))
    if name in declaration:
        return declaration[name]
    return features.get(name, _MISSING)


def parse_condition(text: str) -> Condition:
    """Parse ``"<field> <op> <value>"``; ValueError says what is expected."""
    match = _CONDITION.match(str(text))
    if match is None:
        raise ValueError(f"condition {text!r} is not '<field> <operator> <value>' (operators: {', '.join(OPERATORS)})")
    op = match["op"]
    value = yaml.safe_load(match["value"])
    if op in ("in", "not in") and not isinstance(value, list):
        raise ValueError(f"condition {text!r}: '{op}' needs a list such as [CN, HK]")
    if op in ("<", "<=", ">", ">=") and not isinstance(value, (int, float)):
        raise ValueError(f"condition {text!r}: '{op}' needs a number")
    return Condition(field=match["field"], op=op, value=value, text=str(text))


def _parse_rule(raw: Any, index: int) -> Rule:
    if not isinstance(raw, Mapping) or "id" not in raw:
        raise ValueError(f"rule #{index + 1} must be a mapping with an 'id'")
    rule_id = str(raw["id"])
    when = raw.get("when")
    if isinstance(when, str):
        when = [when]
    if not when or not isinstance(when, list):
        raise ValueError(f"rule {rule_id}: 'when' must list at least one condition")
    try:
        conditions = [parse_condition(text) for text in when]
        action = parse_action(raw["action"]) if raw.get("action") else None
    except ValueError as exc:
        raise ValueError(f"rule {rule_id}: {exc}") from None
    score = float(raw.get("score", 0.5))
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"rule {rule_id}: score must be within [0, 1]")
    return Rule(
        rule_id=rule_id,
        description=str(raw.get("description") or " and ".join(c.text for c in conditions)),
        declaration_conditions=tuple(c for c in conditions if c.field not in ITEM_FIELDS),
        item_conditions=tuple(c for c in conditions if c.field in ITEM_FIELDS),
        action=action,
        score=score,
    )


def parse_rules(text: str, source: str) -> RuleBook:
    """Parse a rule file's text; raises :class:`RulesError` naming ``source``."""
    try:
        raw = yaml.safe_load(text) or {}
        if not isinstance(raw, Mapping):
            raise ValueError("the file must be a mapping with a 'rules' list")
        rules = raw.get("rules") or []
        if not isinstance(rules, list):
            raise ValueError("'rules' must be a list")
        parsed = tuple(_parse_rule(item, i) for i, item in enumerate(rules))
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        raise RulesError(source, str(exc).replace("\n", " ")) from None
    ids = [rule.rule_id for rule in parsed]
    if len(ids) != len(set(ids)):
        raise RulesError(source, "rule ids must be unique")
    version = str(raw.get("version") or hashlib.sha256(text.encode()).hexdigest()[:12])
    return RuleBook(version=version, rules=parsed)


class RuleFile:
    """A rule file that reloads itself when it changes; a bad edit keeps the old rules."""

    def __init__(self, path: Path | None, check_interval_s: float = 1.0) -> None:
        self._path = path
        self._interval = check_interval_s
        self._stamp: tuple[int, int] | None = None
        self._next_check = 0.0
        self.last_error: str | None = None
        self.book = EMPTY_RULES
        if path is not None:
            self.book = parse_rules(self._read(path), str(path))
            self._stamp = self._stat(path)

    @staticmethod
    def _stat(path: Path) -> tuple[int, int]:
        st = path.stat()
        return (st.st_mtime_ns, st.st_size)

    @staticmethod
    def _read(path: Path) -> str:
        try:
            return path.read_text()
        except OSError as exc:
            raise RulesError(str(path), exc.strerror or str(exc)) from None

    def refresh(self, force: bool = False) -> bool:
        """Reload if the file changed (checked at most every ``check_interval_s``); True if reloaded."""
        if self._path is None:
            return False
        now = time.monotonic()
        if not force and now < self._next_check:
            return False
        self._next_check = now + self._interval
        try:
            stamp = self._stat(self._path)
        except OSError as exc:
            return self._reject(RulesError(str(self._path), exc.strerror or str(exc)))
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            book = parse_rules(self._read(self._path), str(self._path))
        except RulesError as exc:
            return self._reject(exc)
        self.book = book
        self.last_error = None
        log.info("rules reloaded from %s: version %s, %d rules", self._path, book.version, len(book.rules))
        return True

    def _reject(self, exc: RulesError) -> bool:
        if str(exc) != self.last_error:
            log.error("%s", exc)
        self.last_error = str(exc)
        return False
