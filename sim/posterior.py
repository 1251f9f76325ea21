"""The generator's posterior probability of fraud per declaration: the oracle of the model benchmarks.

The ex-ante ``fraud_probability`` is the chance a trader cheats *before* it files;
the declaration then carries traces. The posterior updates the prior with the
likelihood ratio of what was declared under each fraud kind against honesty, with
the generator's own noise models (:mod:`zeikan.sim.world`, :mod:`zeikan.sim.fraud`):

    odds(fraud | declaration) = odds(prior) × Σ_k q_k · LR_k × LR_lead

* q_k — the probability of kind k given fraud, from the world's kind weights, the
  kinds possible for the declared goods/origin/containers and the importer's
  favourite kind (the generator's view of the trader);
* LR_k on the fraud's line (the line the generator targets: highest true value × duty):
  undervaluation — the unit value against the importer's price for the HS x origin
  (lognormal noise σ 0.2, ratio U(0.3, 0.7), tens-rounding); quantity and weight —
  the weight per unit against the goods' unit weight and packing; misdeclared goods —
  the unit value against the price of each good the declared code could be hiding;
  origin — the price of the goods at the anti-dumped origin and the hub dispatch;
  concealment leaves no trace in the declaration (LR 1);
* LR_lead — frauds file late half the time (not for SEA, whose arrival is the vessel's).

It conditions on what the generator knows of the trader (prior, price factor), so it
is an upper bound for a model that must learn those from history. Approximations:
one kind per fraud (the 15 % second kind is ignored), the line is the generator's.
"""

from __future__ import annotations

import numpy as np

from zeikan.sim.actors import Actors
from zeikan.sim.catalog import AD_ORIGINS, COUNTRY_INDEX, GOODS, HUBS, LEAD_HOURS, ORIGIN_LAUNDERING, TRANSPORT_MODES
from zeikan.sim.fraud import CONCEALMENT, KINDS, MISDECLARED_GOODS, ORIGIN, QUANTITY, UNDERVALUATION, WEIGHT, Lines

SIGMA_UV = 0.2
"""Sd of the log unit price around the importer's norm (``world._true_lines``)."""
PACKING_MU, SIGMA_W = float(np.log(1.07)), 0.07
"""Log weight per unit over the goods' unit weight: packing U(1.02, 1.12) x lognormal(0, 0.05), plus rounding."""
GRID = np.linspace(0.0, 1.0, 41)[1:-1]
"""Points of U(0, 1) the fraud ratios' uniform draws are integrated over."""
_HUB_IDX = np.array([COUNTRY_INDEX[c] for c in HUBS])
_LAUNDER_IDX = np.array([COUNTRY_INDEX[c] for c in ORIGIN_LAUNDERING])
_AD_IDX = COUNTRY_INDEX[AD_ORIGINS[0]]
_SEA = TRANSPORT_MODES.index("SEA")
_LEAD = np.array([LEAD_HOURS[m] for m in TRANSPORT_MODES])
HIDING: list[np.ndarray] = [np.flatnonzero([d in GOODS.lookalike[GOODS.lookalike_ptr[g]:GOODS.lookalike_ptr[g + 1]]
                                             for g in range(len(GOODS))]) for d in range(len(GOODS))]
"""For each declared good, the goods it could be the look-alike of."""


def _norm(x: np.ndarray, sd: float) -> np.ndarray:
    return np.exp(-0.5 * (x / sd) ** 2) / sd


def _shifted(x: np.ndarray, shifts: np.ndarray, sd: float) -> np.ndarray:
    """Mean over ``shifts`` (columns) of the normal density of x - shift: a noise model convolved with a ratio."""
    return _norm(x[:, None] - shifts, sd).mean(axis=1)


def lead_ratio(lead_h: np.ndarray, mode: np.ndarray) -> np.ndarray:
    """LR of the filing lead time: honest U(lo, hi); fraud half the time lead x U(0.15, 0.5) (at least 1 h)."""
    lo, hi = _LEAD[mode, 0], _LEAD[mode, 1]
    f0 = ((lead_h >= lo) & (lead_h <= hi)) / (hi - lo)
    u = 0.15 + 0.35 * GRID
    base = lead_h[:, None] / u
    g = (((base >= lo[:, None]) & (base <= hi[:, None])) / (hi - lo)[:, None] / u).mean(axis=1)
    f1 = 0.5 * f0 + 0.5 * g
    ratio = np.where(f0 > 0, f1 / np.maximum(f0, 1e-12), np.where(g > 0, 50.0, 1.0))
    return np.where(mode == _SEA, 1.0, ratio)


def fraud_posterior(
    actors: Actors, importer: np.ndarray, declared: Lines, line: np.ndarray, origin: np.ndarray, dispatch: np.ndarray,
    mode: np.ndarray, lead_h: np.ndarray, has_container: np.ndarray, prior: np.ndarray, kind_weight: np.ndarray,
) -> np.ndarray:
    """P(fraud | declaration) per declaration (see the module docstring); ``line``: the global index of its fraud line."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return _posterior(actors, importer, declared, line, origin, dispatch, mode, lead_h, has_container, prior,
                          kind_weight)


def _posterior(
    actors: Actors, importer: np.ndarray, declared: Lines, line: np.ndarray, origin: np.ndarray, dispatch: np.ndarray,
    mode: np.ndarray, lead_h: np.ndarray, has_container: np.ndarray, prior: np.ndarray, kind_weight: np.ndarray,
) -> np.ndarray:
    n = len(importer)
    g = declared.goods[line]
    uv = declared.value[line] / np.maximum(declared.quantity[line], 1e-9)
    r = np.log(uv / (actors.price[g, origin] * actors.price_factor[importer]))
    w = np.log(declared.weight_kg[line] / np.maximum(declared.quantity[line], 1e-9) / GOODS.unit_kg[g]) - PACKING_MU
    honest_r, honest_w = _norm(r, SIGMA_UV), _norm(w, SIGMA_W)

    lr = np.ones((n, len(KINDS)))
    under = _shifted(r, np.log(0.3 + 0.4 * GRID)[None, :], SIGMA_UV) / honest_r
    tens = (np.round(declared.value[line], 2) % 10.0) == 0
    lr[:, UNDERVALUATION] = under * np.where(tens, 0.505 / 0.011, 0.495 / 0.989)
    lr[:, QUANTITY] = 0.3 + 0.7 * _shifted(w, -np.log(0.4 + 0.4 * GRID)[None, :], SIGMA_W) / honest_w
    lr[:, WEIGHT] = _shifted(w, np.log(0.4 + 0.35 * GRID)[None, :], SIGMA_W) / honest_w
    can_hide = np.array([len(HIDING[d]) > 0 for d in g])
    for i in np.flatnonzero(can_hide):
        true = HIDING[g[i]]
        delta = np.log(actors.price[true, origin[i]] / actors.price[g[i], origin[i]])
        lr[i, MISDECLARED_GOODS] = _shifted(np.array([r[i]]), delta[None, :], SIGMA_UV)[0] / honest_r[i]
    launder = GOODS.anti_dumping[g] & np.isin(origin, _LAUNDER_IDX)
    via_hub = np.isin(dispatch, _HUB_IDX) & (dispatch != origin)
    cn = np.log(actors.price[g, _AD_IDX] / actors.price[g, origin])
    lr[:, ORIGIN] = _norm(r - cn, SIGMA_UV) / honest_r * np.where(via_hub, 0.7 / 0.15, 0.3 / 0.85)

    eligible = np.ones((n, len(KINDS)), dtype=bool)
    eligible[:, MISDECLARED_GOODS], eligible[:, ORIGIN], eligible[:, CONCEALMENT] = can_hide, launder, has_container
    favourite = np.zeros((n, len(KINDS)))
    favourite[np.arange(n), actors.favourite_kind[importer]] = 2.0
    q = eligible * kind_weight * (1.0 + favourite * (actors.importer_class[importer] == 2)[:, None])
    total = q.sum(axis=1)
    q = np.where(total[:, None] > 0, q / np.maximum(total, 1e-12)[:, None], 0.0)
    ratio = (q * np.nan_to_num(lr, nan=1.0, posinf=1e6)).sum(axis=1) * lead_ratio(lead_h, mode)
    odds = prior / (1.0 - prior) * ratio
    return np.where(total > 0, odds / (1.0 + odds), 0.0)
