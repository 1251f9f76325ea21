"""Validation of in-memory records: the schema first (kind ``SCHEMA``), then the meaning (``SEMANTIC``).

Semantic rules: ISO 6346 container ids with check digit, HS codes of 6-10 digits, ISO 3166
alpha-2 countries, ISO 4217 currencies, finite non-negative amounts (quantity > 0), times in
2000..2100 (``expected_arrival >= filed_at``), unique line numbers and containers, size
limits (ids <= 64 chars, descriptions <= 512, notes <= 2000, <= 999 items, <= 200
containers), no containers on AIR/POST declarations, ``image_sha256`` empty or 64 lowercase
hex, ``risk_score`` in [0, 1]. The error names the failing field (``items[2].hs_code``).

>>> from zeikan.schemas.examples import example_record
>>> record = example_record("declarations")
>>> record["containers"][0] = "CSQU3054384"
>>> validate("declarations", record)
Traceback (most recent call last):
...
zeikan.schemas.errors.ValidationError: SEMANTIC declarations: containers[0]: 'CSQU3054384' has check digit 4, ISO 6346 gives 3
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import cache
from typing import Any, NoReturn

from zeikan.schemas.codec import expanded_schema, topic_spec
from zeikan.schemas.errors import ErrorKind, ValidationError
from zeikan.schemas.reference import (
    COUNTRIES,
    CURRENCIES,
    check_container_id,
    container_check_digit,
    is_hs_code,
)
from zeikan.schemas.structure import Checker, compile_checker

__all__ = ["check_container_id", "container_check_digit", "schema_check", "validate"]

ID_MAX = 64
DESCRIPTION_MAX = 512
NOTE_MAX = 2000
URI_MAX = 2000
ITEMS_MAX = 999
CONTAINERS_MAX = 200
MIN_TIME_MS = 946_684_800_000
"""2000-01-01T00:00:00Z: earlier times are taken for a unit mistake (seconds, not millis)."""
MAX_TIME_MS = 4_102_444_800_000
"""2100-01-01T00:00:00Z."""
CONTAINERLESS_MODES = frozenset({"AIR", "POST"})
DEAD_LETTER_KINDS = frozenset(kind.value for kind in ErrorKind)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class _Invalid(Exception):
    """Internal: a semantic failure at ``field``; :func:`validate` adds the topic."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _fail(field: str, reason: str) -> NoReturn:
    raise _Invalid(field, reason)


def validate(topic: str, record: dict) -> None:
    """Raise :class:`ValidationError` (kind SCHEMA or SEMANTIC) unless ``record`` is a valid ``topic`` record."""
    schema_check(topic)(record)
    try:
        _SEMANTIC[topic_spec(topic).name](record)
    except _Invalid as bad:
        raise ValidationError("SEMANTIC", bad.field, bad.reason, topic) from None


@cache
def schema_check(topic: str) -> Checker:
    """The schema-only check of ``topic`` records (raises kind SCHEMA), built once."""
    return compile_checker(expanded_schema(topic_spec(topic).name), topic)


# --- field rules -------------------------------------------------------------------------------


def _text(value: str, field: str, limit: int, required: bool = False) -> None:
    if required and not value.strip():
        _fail(field, "must not be empty")
    if len(value) > limit:
        _fail(field, f"is {len(value)} characters long, the limit is {limit}")


def _ids(record: dict, *names: str) -> None:
    for name in names:
        _text(record[name], name, ID_MAX, required=True)


def _time(value: int, field: str) -> None:
    if not MIN_TIME_MS <= value < MAX_TIME_MS:
        _fail(field, f"{value} is not epoch millis between 2000 and 2100")


def _amount(value: float | Decimal, field: str, positive: bool = False) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        _fail(field, f"{value} is not a finite number")
    if positive and value <= 0:
        _fail(field, f"{value} must be greater than 0")
    if value < 0:
        _fail(field, f"{value} must not be negative")


def _unit_interval(value: float, field: str) -> None:
    _amount(value, field)
    if value > 1:
        _fail(field, f"{value} is not within [0, 1]")


def _container(value: str, field: str) -> None:
    if check_container_id(value):
        return
    try:
        expected = container_check_digit(value[:10])
    except ValueError:
        _fail(field, f"{value!r} is not an ISO 6346 id (owner code + U/J/Z + 6 digits + check digit)")
    if len(value) == 11 and value[3] in "UJZ" and value[10].isdigit():
        _fail(field, f"{value!r} has check digit {value[10]}, ISO 6346 gives {expected}")
    _fail(field, f"{value!r} is not an ISO 6346 id (owner code + U/J/Z + 6 digits + check digit)")


def _containers(values: list[str], field: str) -> None:
    if len(values) > CONTAINERS_MAX:
        _fail(field, f"{len(values)} containers, the limit is {CONTAINERS_MAX}")
    for index, value in enumerate(values):
        _container(value, f"{field}[{index}]")
    _unique(values, field)


def _unique(values: Iterable[Any], field: str, suffix: str = "") -> None:
    """Fail at ``field[i]suffix`` for the first value that appeared before."""
    seen: set[Any] = set()
    for index, value in enumerate(values):
        if value in seen:
            _fail(f"{field}[{index}]{suffix}", f"{value!r} appears twice")
        seen.add(value)


def _country(value: str, field: str) -> None:
    if value not in COUNTRIES:
        _fail(field, f"{value!r} is not an ISO 3166-1 alpha-2 country code")


def _line_no(value: int, field: str) -> None:
    if not 0 < value <= ITEMS_MAX:
        _fail(field, f"{value} is not a line number in 1..{ITEMS_MAX}")


# --- per topic ---------------------------------------------------------------------------------


def _declaration(r: dict) -> None:
    _ids(r, "declaration_id", "office_id", "importer_id", "declarant_id")
    _text(r["conveyance_ref"], "conveyance_ref", ID_MAX)
    _country(r["origin_country"], "origin_country")
    _country(r["dispatch_country"], "dispatch_country")
    _time(r["filed_at"], "filed_at")
    _time(r["expected_arrival"], "expected_arrival")
    if r["expected_arrival"] < r["filed_at"]:
        _fail("expected_arrival", "is before filed_at")
    if r["containers"] and r["transport_mode"] in CONTAINERLESS_MODES:
        _fail("containers", f"a {r['transport_mode']} declaration carries no ISO 6346 containers")
    _containers(r["containers"], "containers")
    items = r["items"]
    if not items:
        _fail("items", "a declaration needs at least one item")
    if len(items) > ITEMS_MAX:
        _fail("items", f"{len(items)} items, the limit is {ITEMS_MAX}")
    for index, item in enumerate(items):
        _declaration_item(item, f"items[{index}]")
    _unique([item["line_no"] for item in items], "items", ".line_no")


def _declaration_item(item: dict, at: str) -> None:
    _line_no(item["line_no"], f"{at}.line_no")
    if not is_hs_code(item["hs_code"]):
        _fail(f"{at}.hs_code", f"{item['hs_code']!r} is not an HS code of 6 to 10 digits")
    _text(item["description"], f"{at}.description", DESCRIPTION_MAX)
    _amount(item["quantity"], f"{at}.quantity", positive=True)
    _text(item["quantity_unit"], f"{at}.quantity_unit", ID_MAX, required=True)
    _amount(item["gross_weight_kg"], f"{at}.gross_weight_kg")
    _amount(item["customs_value"], f"{at}.customs_value")
    if item["currency"] not in CURRENCIES:
        _fail(f"{at}.currency", f"{item['currency']!r} is not an ISO 4217 currency code")


def _scan(r: dict) -> None:
    _ids(r, "scan_id", "scanner_id", "office_id")
    _container(r["container_id"], "container_id")
    _time(r["scanned_at"], "scanned_at")
    _text(r["image_uri"], "image_uri", URI_MAX, required=True)
    if r["image_sha256"] and not _SHA256_HEX.fullmatch(r["image_sha256"]):
        _fail("image_sha256", "must be empty or 64 lowercase hex digits")
    for index, declaration_id in enumerate(r["declaration_ids"]):
        _text(declaration_id, f"declaration_ids[{index}]", ID_MAX, required=True)
    _unique(r["declaration_ids"], "declaration_ids")


def _inspection_result(r: dict) -> None:
    _ids(r, "inspection_id", "declaration_id", "officer_id")
    _time(r["inspected_at"], "inspected_at")
    for index, finding in enumerate(r["findings"]):
        _line_no(finding["line_no"], f"findings[{index}].line_no")
        _text(finding["note"], f"findings[{index}].note", NOTE_MAX)
    _amount(r["revenue_recovered"], "revenue_recovered")


def _decision(r: dict) -> None:
    _ids(r, "decision_id", "declaration_id", "office_id")
    _unit_interval(r["risk_score"], "risk_score")
    for name, score in r["scores"].items():
        if score is not None:
            _unit_interval(score, f"scores.{name}")
    for name, score in r.get("shadow_scores", {}).items():
        _unit_interval(score, f"shadow_scores[{name!r}]")
    for field in ("reasons", "rule_hits"):
        for index, text in enumerate(r[field]):
            _text(text, f"{field}[{index}]", DESCRIPTION_MAX, required=True)
    for name, version in r["model_versions"].items():
        _text(version, f"model_versions[{name!r}]", ID_MAX, required=True)
    for index, evidence in enumerate(r.get("image_evidence", [])):
        _image_evidence(evidence, f"image_evidence[{index}]")
    _time(r["event_time"], "event_time")
    _time(r["decided_at"], "decided_at")


def _image_evidence(evidence: dict, at: str) -> None:
    _text(evidence["scan_id"], f"{at}.scan_id", ID_MAX, required=True)
    _container(evidence["container_id"], f"{at}.container_id")
    _unit_interval(evidence["anomaly_score"], f"{at}.anomaly_score")
    if evidence.get("heatmap_uri") is not None:
        _text(evidence["heatmap_uri"], f"{at}.heatmap_uri", URI_MAX)
    if evidence.get("implied_mass_kg") is not None:
        _amount(evidence["implied_mass_kg"], f"{at}.implied_mass_kg")


def _dead_letter(r: dict) -> None:
    _ids(r, "source_topic")
    for field in ("partition", "offset"):
        if r[field] < -1:
            _fail(field, f"{r[field]} is neither -1 (not from Kafka) nor a position")
    if r["error_kind"] not in DEAD_LETTER_KINDS:
        _fail("error_kind", f"{r['error_kind']!r} is not one of {', '.join(sorted(DEAD_LETTER_KINDS))}")
    _time(r["failed_at"], "failed_at")
    size = r.get("raw_size", -1)
    if size < -1:
        _fail("raw_size", f"{size} is neither -1 (not recorded) nor a size")
    if size >= 0 and len(r["raw"]) > size:
        _fail("raw", f"holds {len(r['raw'])} bytes, more than raw_size {size}")
    if r.get("raw_sha256") and not _SHA256_HEX.fullmatch(r["raw_sha256"]):
        _fail("raw_sha256", "must be empty or 64 lowercase hex digits")


def _scan_overdue(r: dict) -> None:
    _ids(r, "declaration_id", "office_id", "decision_id")
    _time(r["deadline"], "deadline")
    _time(r["detected_at"], "detected_at")
    _containers(r["missing_containers"], "missing_containers")


def _model_promotion(r: dict) -> None:
    for field in ("boundary", "effective_from", "eval_from", "eval_to"):
        _time(r[field], field)
    if r["effective_from"] < r["boundary"]:
        _fail("effective_from", "is before the boundary: a decision cannot serve declarations filed before it")
    for field in ("eval_declarations", "eval_labels", "eval_positives", "train_declarations", "train_inspections"):
        if r[field] < 0:
            _fail(field, "must not be negative")
    if r["promoted"] and r["candidate"] is None:
        _fail("candidate", "is missing on a promotion")


_SEMANTIC: dict[str, Callable[[dict], None]] = {
    "declarations": _declaration,
    "scans": _scan,
    "inspection-results": _inspection_result,
    "decisions": _decision,
    "dead-letters": _dead_letter,
    "scan-overdue": _scan_overdue,
    "model-promotions": _model_promotion,
}
