"""Factories of small hand-made event histories for the feature tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

DAY = 86_400_000
T0 = 1_700_000_000_000


def make_item(hs: str = "85171200", value: str = "1000.00", qty: float = 10.0, kg: float = 5.0,
              desc: str = "mobile phones", unit: str = "PCE", line_no: int = 1) -> dict[str, Any]:
    """One declaration line."""
    return {"line_no": line_no, "hs_code": hs, "description": desc, "quantity": qty, "quantity_unit": unit,
            "gross_weight_kg": kg, "customs_value": Decimal(value), "currency": "EUR"}


def make_declaration(decl_id: str, t: int, importer: str = "I1", declarant: str = "D1", origin: str = "CN",
                     dispatch: str = "CN", office: str = "O1", items: list | None = None,
                     lead_ms: int = 3 * DAY, mode: str = "SEA") -> dict[str, Any]:
    """A DeclarationFiled record."""
    return {"declaration_id": decl_id, "filed_at": t, "office_id": office, "importer_id": importer,
            "declarant_id": declarant, "origin_country": origin, "dispatch_country": dispatch,
            "transport_mode": mode, "conveyance_ref": "V1", "expected_arrival": t + lead_ms,
            "containers": [], "items": items if items is not None else [make_item()]}


def make_inspection(insp_id: str, decl_id: str, t: int, outcome: str = "DISCREPANCY",
                    random_selected: bool = False) -> dict[str, Any]:
    """An InspectionResult record."""
    return {"inspection_id": insp_id, "declaration_id": decl_id, "inspected_at": t, "officer_id": "X",
            "inspection_type": "PHYSICAL", "outcome": outcome, "findings": [],
            "revenue_recovered": Decimal("0.00"), "random_selected": random_selected}
