"""The ordered feature vector: the column order of every model trained on these features.

The plain-language reason of each feature is in :mod:`zeikan.features.reasons`.
"""

from __future__ import annotations

FEATURE_NAMES: tuple[str, ...] = (
    "uv_z_hs", "uv_z_hs_origin", "uv_z_hs_office", "uv_hist_n", "wpu_z_abs", "vpk_z", "desc_hs_share",
    "imp_log_n", "imp_age_days", "imp_recency_days", "imp_insp_n", "imp_disc_rate", "imp_seiz_rate",
    "dcl_log_n", "dcl_age_days", "dcl_disc_rate", "dcl_seiz_rate", "dcl_peer_seizures", "new_importer_hs",
    "new_declarant_importer", "origin_ne_dispatch", "dispatch_hub_share", "origin_disc_rate",
    "round_value_share", "round_weight_share", "lead_time_hours", "log_total_value", "n_items",
    "transport_mode", "uv_z_imp_hs", "wpu_z_hs_origin", "duty_rate", "log_duty_at_stake",
    "origin_duty_saving", "heading_duty_gap", "pref_origin_via_other", "value_round_digits", "lookalike_price_fit",
    "ad_origin_price_fit", "imp_ad_origin_lr", "hs_ad_origin_lr",
)
"""Ordered feature names: the model's column order."""

TRANSPORT_MODES: tuple[str, ...] = ("SEA", "AIR", "ROAD", "RAIL", "POST")
"""Transport modes in the order of their numeric code (feature ``transport_mode``)."""

