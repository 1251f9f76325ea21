"""A plain-language reason template per feature (:data:`~zeikan.features.names.FEATURE_NAMES`).

Templates are formatted with :func:`reason`: ``{value}`` (the feature value),
``{abs}``, ``{dir}`` (below/above), ``{pct}`` (value as a percentage) and the
declaration's context: ``{hs}`` (HS-6 of its highest-value line), ``{origin}``,
``{dispatch}``, ``{office}``, ``{importer}``, ``{declarant}``, ``{mode}``.
"""

from __future__ import annotations

from collections.abc import Mapping

from zeikan.features.transforms import hs6

TEMPLATES: dict[str, str] = {
    "uv_z_hs": "unit value {abs:.1f}σ {dir} the norm for HS {hs}",
    "uv_z_hs_origin": "unit value {abs:.1f}σ {dir} HS {hs} from {origin}",
    "uv_z_hs_office": "unit value {abs:.1f}σ {dir} HS {hs} at this office",
    "uv_hist_n": "only {value:.0f} earlier prices known for HS {hs}",
    "wpu_z_abs": "weight per unit {abs:.1f}σ away from the norm for HS {hs}",
    "vpk_z": "value per kg {abs:.1f}σ {dir} the norm for HS {hs}",
    "desc_hs_share": "description matches HS {hs} in only {pct:.0f}% of earlier lines",
    "imp_log_n": "importer {importer} volume: {value:.1f} (log of earlier declarations)",
    "imp_age_days": "importer {importer} first seen {value:.0f} days ago",
    "imp_recency_days": "importer {importer} last filed {value:.0f} days ago",
    "imp_insp_n": "importer {importer} inspected {value:.0f} times before",
    "imp_disc_rate": "importer {importer} past discrepancy rate {pct:.0f}%",
    "imp_seiz_rate": "importer {importer} past seizure rate {pct:.0f}%",
    "dcl_log_n": "declarant {declarant} volume: {value:.1f} (log of earlier declarations)",
    "dcl_age_days": "declarant {declarant} first seen {value:.0f} days ago",
    "dcl_disc_rate": "declarant {declarant} past discrepancy rate {pct:.0f}%",
    "dcl_seiz_rate": "declarant {declarant} past seizure rate {pct:.0f}%",
    "dcl_peer_seizures": "declarant {declarant} files for importers with {value:.0f} seizures",
    "new_importer_hs": "{pct:.0f}% of lines are HS codes new for importer {importer}",
    "new_declarant_importer": "first declaration by {declarant} for importer {importer}",
    "origin_ne_dispatch": "origin {origin} differs from dispatch country {dispatch}",
    "dispatch_hub_share": "{dispatch} is a transshipment hub ({pct:.0f}% of its cargo from elsewhere)",
    "origin_disc_rate": "goods from {origin}: past discrepancy rate {pct:.0f}%",
    "round_value_share": "{pct:.0f}% of line values are round numbers",
    "round_weight_share": "{pct:.0f}% of line weights are round numbers",
    "lead_time_hours": "filed {value:.0f} h before expected arrival",
    "log_total_value": "declared value {value:.1f} (log)",
    "n_items": "{value:.0f} lines declared",
    "transport_mode": "transport mode {mode}",
    "uv_z_imp_hs": "unit value {abs:.1f}σ {dir} importer {importer}'s own past prices for HS {hs}",
    "wpu_z_hs_origin": "weight per unit {abs:.1f}σ {dir} HS {hs} from {origin} (quantity vs weight)",
    "duty_rate": "duty rate {pct:.0f}% on HS {hs} from {origin}",
    "log_duty_at_stake": "duty at stake {value:.1f} (log)",
    "origin_duty_saving": "declaring {origin} saves {pct:.0f} points of duty against the worst origin",
    "heading_duty_gap": "a code in the same heading pays {pct:.0f} points more duty",
    "pref_origin_via_other": "duty-saving origin {origin} shipped from {dispatch}",
    "value_round_digits": "a line value is a round amount ({value:.0f} trailing zeros in cents)",
    "lookalike_price_fit": "unit value fits a higher-duty look-alike of HS {hs} better ({value:.1f}σ)",
    "ad_origin_price_fit": "unit value fits HS {hs} from an anti-dumped origin better than from {origin} ({value:.1f}σ)",
    "imp_ad_origin_lr": "importer {importer} imported more often from an origin these goods are anti-dumped from "
                        "than from {origin} (log ratio {value:.1f})",
    "hs_ad_origin_lr": "HS {hs} came more often from an anti-dumped origin than from {origin} (log ratio {value:.1f})",
}
"""Reason template per feature, one for each of :data:`~zeikan.features.names.FEATURE_NAMES`."""


def _main_line(declaration: Mapping) -> Mapping:
    items = declaration.get("items") or [{}]
    return max(items, key=lambda item: float(item.get("customs_value", 0) or 0))


def reason(name: str, value: float, declaration: Mapping) -> str:
    """Plain-language reason for one feature value of a declaration.

    >>> reason("uv_z_hs_origin", -4.1, {"origin_country": "CN", "items": [{"hs_code": "85171200"}]})
    'unit value 4.1σ below HS 851712 from CN'
    """
    line = _main_line(declaration)
    context = {
        "value": value,
        "abs": abs(value),
        "dir": "below" if value < 0 else "above",
        "pct": 100.0 * value,
        "hs": hs6(str(line.get("hs_code", ""))),
        "origin": declaration.get("origin_country", "?"),
        "dispatch": declaration.get("dispatch_country", "?"),
        "office": declaration.get("office_id", "?"),
        "importer": declaration.get("importer_id", "?"),
        "declarant": declaration.get("declarant_id", "?"),
        "mode": declaration.get("transport_mode", "?"),
    }
    return TEMPLATES[name].format(**context)
