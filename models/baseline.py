"""The raw-column baseline (DATE-paper style): declaration columns and categorical ids, no history.

Same labels, weights, split and LightGBM training as the risk model
(:func:`zeikan.models.training.fit`); only the inputs differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

from zeikan.features.definitions import money
from zeikan.features.names import TRANSPORT_MODES
from zeikan.features.transforms import hs6

CATEGORICAL: tuple[str, ...] = ("hs6", "hs4", "origin", "dispatch", "office", "importer", "declarant")
"""Categorical id columns (integer codes, LightGBM categorical features)."""
NUMERIC: tuple[str, ...] = ("n_items", "total_value", "total_weight", "total_qty", "unit_value", "value_per_kg",
                            "lead_hours", "mode")
"""Raw numeric columns."""
COLUMNS: tuple[str, ...] = NUMERIC + CATEGORICAL


def _raw_row(d: Mapping) -> dict:
    items = d["items"]
    main = max(items, key=lambda i: money(i["customs_value"]))
    value = sum(money(i["customs_value"]) for i in items)
    weight = sum(float(i["gross_weight_kg"]) for i in items)
    qty = sum(float(i["quantity"]) for i in items)
    return {
        "declaration_id": d["declaration_id"], "filed_at": int(d["filed_at"]),
        "n_items": float(len(items)), "total_value": value, "total_weight": weight, "total_qty": qty,
        "unit_value": money(main["customs_value"]) / max(float(main["quantity"]), 1e-9),
        "value_per_kg": value / max(weight, 1e-9),
        "lead_hours": (int(d["expected_arrival"]) - int(d["filed_at"])) / 3.6e6,
        "mode": float(TRANSPORT_MODES.index(d["transport_mode"])),
        "hs6": hs6(main["hs_code"]), "hs4": main["hs_code"][:4], "origin": d["origin_country"],
        "dispatch": d["dispatch_country"], "office": d["office_id"], "importer": d["importer_id"],
        "declarant": d["declarant_id"],
    }


def raw_columns(declarations: Iterable[Mapping]) -> pl.DataFrame:
    """One row per declaration: raw numeric columns and categorical ids as integer codes."""
    frame = pl.DataFrame([_raw_row(d) for d in declarations]).unique("declaration_id", keep="first", maintain_order=True)
    return frame.with_columns(
        pl.col(c).cast(pl.Categorical).to_physical().cast(pl.Float64) for c in CATEGORICAL
    )
