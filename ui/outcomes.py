"""Record outcome: an officer's form -> an InspectionResult checked against the Avro contract.

The form carries an ``inspection_id`` made when it was rendered, so submitting it twice
(double click, browser retry) names the same result: the workers deduplicate by it and the
web app publishes it only once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from zeikan.schemas.codec import schema_json
from zeikan.schemas.errors import ValidationError
from zeikan.schemas.validation import validate
from zeikan.ui.errors import FormError

TOPIC = "inspection-results"
FINDING_SLOTS = 3
"""Finding lines offered by the form."""
_INSPECTION_ID = re.compile(r"INS-UI-[0-9a-f]{32}")


@cache
def symbols(field: str) -> tuple[str, ...]:
    """Enum symbols of an InspectionResult field (``inspection_type``, ``outcome``, ``findings.kind``), from the .avsc."""
    record = schema_json(TOPIC)
    name, _, inner = field.partition(".")
    spec = next(f for f in record["fields"] if f["name"] == name)["type"]
    if inner:
        spec = next(f for f in spec["items"]["fields"] if f["name"] == inner)["type"]
    return tuple(spec["symbols"])


def new_inspection_id(token: str) -> str:
    """The id a freshly rendered form carries (``token``: 32 random hex digits)."""
    return f"INS-UI-{token}"


def _choice(form: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = str(form.get(name, ""))
    if value not in allowed:
        raise FormError(name, f"must be one of {', '.join(allowed)}")
    return value


def _findings(form: Mapping[str, str], line_numbers: set[int]) -> list[dict[str, Any]]:
    findings = []
    for slot in range(FINDING_SLOTS):
        kind = str(form.get(f"finding_kind_{slot}", ""))
        if not kind:
            continue
        kind = _choice(form, f"finding_kind_{slot}", symbols("findings.kind"))
        try:
            line_no = int(str(form.get(f"finding_line_{slot}", "")))
        except ValueError:
            raise FormError(f"finding_line_{slot}", "must be a line number of the declaration") from None
        if line_no not in line_numbers:
            raise FormError(f"finding_line_{slot}", f"line {line_no} is not on the declaration ({sorted(line_numbers)})")
        findings.append({"line_no": line_no, "kind": kind, "note": str(form.get(f"finding_note_{slot}", "")).strip()})
    return findings


def inspection_record(form: Mapping[str, str], declaration: Mapping[str, Any], decision: Mapping[str, Any] | None,
                      officer_id: str, now_ms: int | None = None) -> dict[str, Any]:
    """The InspectionResult a valid form describes; :class:`FormError` names the first bad field."""
    inspection_id = str(form.get("inspection_id", ""))
    if not _INSPECTION_ID.fullmatch(inspection_id):
        raise FormError("inspection_id", "missing or malformed: reload the page")
    outcome = _choice(form, "outcome", symbols("outcome"))
    findings = _findings(form, {int(i["line_no"]) for i in declaration.get("items", ())})
    if outcome == "NO_FINDING" and findings:
        raise FormError("outcome", "NO_FINDING cannot list findings")
    if outcome != "NO_FINDING" and not findings:
        raise FormError("findings", f"{outcome} needs at least one finding")
    try:
        revenue = Decimal(str(form.get("revenue_recovered", "0") or "0").replace(",", ""))
    except InvalidOperation:
        raise FormError("revenue_recovered", "must be an amount such as 1250.00") from None
    if not revenue.is_finite() or revenue < 0 or revenue >= Decimal("1e15"):
        raise FormError("revenue_recovered", "must be a non-negative amount")
    record = {
        "inspection_id": inspection_id,
        "declaration_id": str(declaration["declaration_id"]),
        "inspected_at": now_ms if now_ms is not None else int(time.time() * 1000),
        "officer_id": officer_id,
        "inspection_type": _choice(form, "inspection_type", symbols("inspection_type")),
        "outcome": outcome,
        "findings": findings,
        "revenue_recovered": revenue.quantize(Decimal("0.01")),
        "random_selected": bool(decision and decision.get("random_selected")),
    }
    try:
        validate(TOPIC, record)
    except ValidationError as exc:
        raise FormError(exc.field or "form", exc.reason) from None
    return record
