"""Factories of small synthetic event histories for the pipeline tests (engine, replay, live)."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from zeikan.schemas.reference import make_container_id

DAY = 86_400_000
HOUR = 3_600_000
T0 = 1_709_251_200_000
"""2024-03-01T00:00:00Z: the start of day 0 of every synthetic history."""

OFFICES = ("JPYOK", "JPTYO")
COUNTRIES = ("CN", "VN", "US", "DE", "TH", "SG")
HS = ("85171200", "84713000", "94036000", "61091000", "39269097", "87089900")


def item(rng: random.Random, line_no: int = 1) -> dict[str, Any]:
    """One plausible declaration line; about 10 % are heavily undervalued."""
    hs = rng.choice(HS)
    qty = float(rng.randint(1, 50) * 10)
    base = 5 + HS.index(hs) * 20
    unit = base * (0.2 if rng.random() < 0.1 else rng.uniform(0.8, 1.2))
    return {
        "line_no": line_no,
        "hs_code": hs,
        "description": f"goods {hs[:4]}",
        "quantity": qty,
        "quantity_unit": "PCE",
        "gross_weight_kg": round(qty * rng.uniform(0.4, 0.6), 1),
        "customs_value": Decimal(f"{qty * unit:.2f}"),
        "currency": "USD",
    }


def declaration(rng: random.Random, serial: int, t: int, containers: list[str] | None = None) -> dict[str, Any]:
    """A valid DeclarationFiled record filed at ``t``."""
    origin = rng.choice(COUNTRIES)
    return {
        "declaration_id": f"DEC-{serial:07d}",
        "filed_at": t,
        "office_id": rng.choice(OFFICES),
        "importer_id": f"IMP-{rng.randint(1, 60):04d}",
        "declarant_id": f"DCL-{rng.randint(1, 15):04d}",
        "origin_country": origin,
        "dispatch_country": origin if rng.random() < 0.8 else "SG",
        "transport_mode": "SEA",
        "conveyance_ref": f"IMO93{serial % 97:05d}",
        "expected_arrival": t + 3 * DAY,
        "containers": containers if containers is not None else [make_container_id("MSKU", serial)],
        "items": [item(rng, n + 1) for n in range(rng.randint(1, 3))],
    }


def inspection(rng: random.Random, decl: dict[str, Any], serial: int, t: int) -> dict[str, Any]:
    """A valid InspectionResult of ``decl`` at ``t`` (a quarter find something)."""
    found = rng.random() < 0.25
    return {
        "inspection_id": f"INS-{serial:07d}",
        "declaration_id": decl["declaration_id"],
        "inspected_at": t,
        "officer_id": "OFF-1",
        "inspection_type": "DOCUMENT",
        "outcome": "DISCREPANCY" if found else "NO_FINDING",
        "findings": [{"line_no": 1, "kind": "UNDERVALUATION", "note": "price"}] if found else [],
        "revenue_recovered": Decimal("120.00") if found else Decimal("0.00"),
        "random_selected": False,
    }


def history(days: int, per_day: int, seed: int = 7, inspect_share: float = 0.2) -> dict[str, list[dict[str, Any]]]:
    """Declarations spread over ``days`` and inspection results for a share of them (a day later)."""
    rng = random.Random(seed)
    declarations, inspections = [], []
    for day in range(days):
        for n in range(per_day):
            t = T0 + day * DAY + int((n + rng.random()) * DAY / per_day)
            decl = declaration(rng, len(declarations) + 1, t)
            declarations.append(decl)
            if rng.random() < inspect_share:
                inspections.append(inspection(rng, decl, len(inspections) + 1, t + DAY // 2))
    return {"declarations": declarations, "inspection-results": inspections}


def scan(serial: int, container_id: str, t: int, declaration_ids: list[str] | None = None) -> dict[str, Any]:
    """A valid ScanCompleted record of ``container_id`` at ``t``."""
    digest = f"{serial:064x}"
    return {
        "scan_id": f"SCN-{serial:07d}",
        "container_id": container_id,
        "scanned_at": t,
        "scanner_id": "XR-1",
        "office_id": "JPYOK",
        "image_uri": f"sha256://{digest}",
        "image_sha256": digest,
        "energy": "DUAL",
        "declaration_ids": declaration_ids or [],
    }
