"""A small synthetic history written as the CLI file contract (fast: no simulator, no images).

Some importers undervalue (unit value / 5); inspections (15 %, a fifth of them
random) find the undervaluation with probability 0.9.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path

from zeikan.schemas.jsonl import write_jsonl

DAY = 86_400_000
T0 = 1_767_225_600_000
HS = {"85171300": 300.0, "61091000": 8.0, "84713000": 700.0, "95030000": 20.0}


def write_history(out: Path, days: int = 40, per_day: int = 80, seed: int = 0) -> Path:
    """Write declarations, inspection results and truth under ``out``; returns ``out``."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    decls, insps, truth = [], [], []
    frauds = {f"IMP{i}" for i in range(0, 60, 7)}
    for n in range(days * per_day):
        t = T0 + n * (DAY // per_day) + rng.randint(0, 1000)
        importer = f"IMP{rng.randint(0, 59)}"
        fraud = importer in frauds and rng.random() < 0.6
        items = []
        for line in range(rng.randint(1, 3)):
            hs = rng.choice(list(HS))
            qty = float(rng.randint(1, 200))
            price = HS[hs] * rng.lognormvariate(0, 0.2) / (5.0 if fraud and line == 0 else 1.0)
            items.append({"line_no": line + 1, "hs_code": hs, "description": f"goods {hs[:4]}", "quantity": qty,
                          "quantity_unit": "PCE", "gross_weight_kg": round(qty * 0.5, 2),
                          "customs_value": Decimal(f"{qty * price:.2f}"), "currency": "EUR"})
        decl_id = f"D{n:06d}"
        decls.append({"declaration_id": decl_id, "filed_at": t, "office_id": rng.choice(["O1", "O2"]),
                      "importer_id": importer, "declarant_id": f"K{rng.randint(0, 9)}",
                      "origin_country": rng.choice(["CN", "VN", "DE"]), "dispatch_country": rng.choice(["CN", "AE"]),
                      "transport_mode": "SEA", "conveyance_ref": "V1", "expected_arrival": t + 5 * DAY,
                      "containers": [], "items": items})
        truth.append({"declaration_id": decl_id, "is_fraud": fraud, "fraud_kinds": ["UNDERVALUATION"] if fraud else [],
                      "revenue_at_risk": 100.0 if fraud else 0.0, "concealment": False})
        if rng.random() < 0.15:
            found = fraud and rng.random() < 0.9
            insps.append({"inspection_id": f"X{n:06d}", "declaration_id": decl_id, "inspected_at": t + DAY,
                          "officer_id": "OF1", "inspection_type": "PHYSICAL",
                          "outcome": "DISCREPANCY" if found else "NO_FINDING", "findings": [],
                          "revenue_recovered": Decimal("100.00") if found else Decimal("0.00"),
                          "random_selected": rng.random() < 0.2})
    write_jsonl(out / "declarations.jsonl", "declarations", decls)
    write_jsonl(out / "inspection-results.jsonl", "inspection-results", insps)
    (out / "truth.jsonl").write_text("".join(json.dumps(r) + "\n" for r in truth))
    return out
