"""Named world variants for the robustness benchmark: the same generator with its mechanisms and parameters changed.

``TUNING`` variants may be looked at while choosing features and settings;
``HELD_OUT`` ones are for the reported figures only and must never be used to tune.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from zeikan.sim.settings import FRAUD_KINDS, SimSettings

_ALL = FRAUD_KINDS

TUNING: dict[str, dict[str, object]] = {
    "base": {"seed": 101},
    "no_networks": {"seed": 102, "n_networks": 0},
    "value_only": {"seed": 103, "mechanisms": ("UNDERVALUATION", "QUANTITY", "WEIGHT", "CONCEALMENT")},
    "goods_origin": {"seed": 104, "mechanisms": ("MISDECLARED_GOODS", "ORIGIN", "CONCEALMENT")},
    "more_fraud": {"seed": 105, "fraud_rate": 0.08, "n_importers": 3000},
    "base_drift": {"seed": 106, "drift": True},
}
"""Variants used while tuning (overrides of :class:`SimSettings`)."""

HELD_OUT: dict[str, dict[str, object]] = {
    "heldout_mix": {"seed": 201, "fraud_rate": 0.04, "n_declarants": 150, "n_networks": 10,
                    "kind_weights": (0.45, 0.35, 0.30, 0.15, 0.30, 0.10)},
    "heldout_drift": {"seed": 202, "drift": True, "n_importers": 5000},
    "heldout_small_traders": {"seed": 203, "n_importers": 8000, "n_declarants": 600, "fraud_rate": 0.06},
}
"""Variants never used while tuning: the figures of the issue come from these."""


def drift_day(seed: int, days: int) -> int:
    """A random drift day in the middle third of the run, drawn from the seed."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 99]))
    return int(rng.integers(days // 3, 2 * days // 3 + 1))


def variant(overrides: dict[str, object], base: SimSettings) -> SimSettings:
    """The settings of a variant on top of ``base`` (``drift: True`` draws a drift day from the seed)."""
    values = {k: v for k, v in overrides.items() if k != "drift"}
    settings = replace(base, **values)  # type: ignore[arg-type]
    if overrides.get("drift"):
        settings = replace(settings, drift_day=drift_day(settings.seed, settings.days))
    return settings


def without(mechanism: str, base: SimSettings) -> SimSettings:
    """``base`` with one mechanism switched off (leave-one-mechanism-out)."""
    return replace(base, mechanisms=tuple(k for k in _ALL if k != mechanism))
