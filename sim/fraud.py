"""Who cheats, how, and what it costs the treasury.

Fraud probability depends on the importer's hidden honesty, its collusive network,
the duty at stake, the route and how new the importer is; an intercept is solved per
day so the mean probability equals the configured rate. Each fraud leaves a *relative*
trace in the declaration (unit value or weight per unit off the norm of its HS code x
origin, a look-alike HS code, a laundering origin via a hub), except concealment, which
only an X-ray or a physical exam can reveal.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from zeikan.sim.actors import Actors
from zeikan.sim.settings import FRAUD_KINDS
from zeikan.sim.catalog import (
    AD_ORIGINS, CONCEALMENTS, CONTRABAND, COUNTRY_INDEX, GOODS, HUBS, ORIGIN_LAUNDERING, UNITS, effective_duty,
)

KINDS: tuple[str, ...] = FRAUD_KINDS
UNDERVALUATION, MISDECLARED_GOODS, QUANTITY, WEIGHT, ORIGIN, CONCEALMENT = range(len(KINDS))

_COUNTED_UNITS = np.array([u in ("PCE", "PR", "SET", "NAR") for u in UNITS])
_AD_ORIGIN_IDX = [COUNTRY_INDEX[c] for c in AD_ORIGINS]
_STRUCTURAL = [CONCEALMENTS.index("in_wall"), CONCEALMENTS.index("in_floor")]
"""Hiding places inside the container structure: room for a few hundred kg only."""


@dataclass(frozen=True)
class Lines:
    """Declaration item lines, columnar; ``decl[i]`` is the declaration of line i."""

    decl: np.ndarray
    goods: np.ndarray
    quantity: np.ndarray
    weight_kg: np.ndarray
    value: np.ndarray


@dataclass(frozen=True)
class Fraud:
    """Per declaration: the fraud committed (if any) and its cost."""

    probability: np.ndarray
    """The latent probability the fraud draw used (:func:`fraud_probability`)."""
    is_fraud: np.ndarray
    kinds: np.ndarray
    """Bit mask over :data:`KINDS`."""
    target_line: np.ndarray
    """Global index of the line the fraud is on (-1 for none)."""
    revenue_by_kind: np.ndarray
    """[declaration, kind] duty evaded, USD."""
    concealment: np.ndarray
    """Index into :data:`CONCEALMENTS`, -1 for none."""
    hidden_goods: np.ndarray
    hidden_quantity: np.ndarray
    hidden_kg: np.ndarray


@dataclass(frozen=True)
class FraudContext:
    """What the fraud draw depends on, per declaration."""

    importer: np.ndarray
    origin: np.ndarray
    dispatch: np.ndarray
    new_importer: np.ndarray
    has_container: np.ndarray
    item_ptr: np.ndarray


def fraud_probability(actors: Actors, ctx: FraudContext, lines: Lines, rate: float) -> np.ndarray:
    """Probability that each declaration is fraudulent; its mean equals ``rate``."""
    logit = fraud_logit(actors, ctx, lines)
    return 1 / (1 + np.exp(-(logit + fraud_intercept(logit, rate))))


def fraud_intercept(logit: np.ndarray, rate: float) -> float:
    """The day's intercept: the shift of ``logit`` whose mean probability is ``rate`` (bisection)."""
    lo, hi = -20.0, 20.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(logit + mid)))).mean() > rate:
            hi = mid
        else:
            lo = mid
    return lo


def fraud_logit(actors: Actors, ctx: FraudContext, lines: Lines) -> np.ndarray:
    """Fraud logit of each declaration before the day's intercept: trader, network, duty, route, newness."""
    duty = effective_duty(lines.goods, ctx.origin[lines.decl])
    max_duty = np.maximum.reduceat(duty, ctx.item_ptr[:-1])
    dumped = np.maximum.reduceat(GOODS.anti_dumping[lines.goods].astype(np.int8), ctx.item_ptr[:-1]) > 0
    return (
        actors.propensity[ctx.importer]
        + 0.9 * (actors.network[ctx.importer] >= 0)
        + 3.0 * max_duty
        + 0.6 * (ctx.dispatch != ctx.origin)
        + 0.8 * ctx.new_importer
        + 0.8 * (dumped & np.isin(ctx.origin, _AD_ORIGIN_IDX))
    )


def draw_fraud(
    rng: np.random.Generator, actors: Actors, ctx: FraudContext, truth: Lines, rate: float, kind_weight: np.ndarray
) -> tuple[Fraud, Lines, np.ndarray, np.ndarray]:
    """Decide the frauds and apply them: returns (fraud, declared lines, declared origin, declared dispatch).

    ``kind_weight``: relative frequency of each kind (0 switches a mechanism off); a
    declaration none of whose possible kinds is on stays honest.
    """
    n = len(ctx.importer)
    probability = fraud_probability(actors, ctx, truth, rate)
    is_fraud = rng.random(n) < probability
    duty_true = effective_duty(truth.goods, ctx.origin[truth.decl])
    target = richest_line(truth.decl, truth.value * duty_true, n)
    weights = kind_weights(actors, ctx.importer, truth.goods[target], ctx.origin, ctx.has_container, kind_weight)
    is_fraud &= weights.sum(axis=1) > 0
    first = _pick(rng, weights)
    weights[np.arange(n), first] = 0.0
    another = (rng.random(n) < 0.15) & (weights.sum(axis=1) > 0)
    second = np.where(another, _pick(rng, weights), first)
    kinds = np.where(is_fraud, (1 << first) | (1 << second), 0)

    decl_lines, origin, dispatch, revenue = _apply(rng, ctx, truth, target, kinds, duty_true)
    hidden = _conceal(rng, actors, kinds, revenue)
    fraud = Fraud(probability=probability, is_fraud=is_fraud, kinds=kinds,
                  target_line=np.where(is_fraud, target, -1), revenue_by_kind=revenue, **hidden)
    return fraud, decl_lines, origin, dispatch


def kind_weights(actors: Actors, importer: np.ndarray, target_goods: np.ndarray, origin: np.ndarray,
                 has_container: np.ndarray, kind_weight: np.ndarray) -> np.ndarray:
    """[declaration, kind] relative chance of each kind given fraud (0 where the kind is impossible).

    From the true goods of the fraud's line, the true origin and the containers; a
    systematic fraudster's favourite kind weighs three times.
    """
    n = len(importer)
    eligible = np.ones((n, len(KINDS)), dtype=bool)
    eligible[:, MISDECLARED_GOODS] = GOODS.lookalike_ptr[target_goods + 1] > GOODS.lookalike_ptr[target_goods]
    eligible[:, ORIGIN] = GOODS.anti_dumping[target_goods] & np.isin(origin, _AD_ORIGIN_IDX)
    eligible[:, CONCEALMENT] = has_container
    favourite = np.zeros((n, len(KINDS)))
    favourite[np.arange(n), actors.favourite_kind[importer]] = 2.0
    return eligible * kind_weight * (1.0 + favourite * (actors.importer_class[importer] == 2)[:, None])


def richest_line(decl: np.ndarray, score: np.ndarray, n: int) -> np.ndarray:
    """Global line index with the highest score within each declaration."""
    order = np.lexsort((-score, decl))
    first = np.ones(len(order), dtype=bool)
    first[1:] = decl[order[1:]] != decl[order[:-1]]
    best = np.empty(n, dtype=np.int64)
    best[decl[order[first]]] = order[first]
    return best


def _pick(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row, with probability proportional to the row's weights."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), weights.shape[1] - 1)


def _has(kinds: np.ndarray, kind: int) -> np.ndarray:
    return (kinds >> kind) & 1 == 1


def _apply(
    rng: np.random.Generator, ctx: FraudContext, truth: Lines, target: np.ndarray, kinds: np.ndarray,
    duty_true: np.ndarray,
) -> tuple[Lines, np.ndarray, np.ndarray, np.ndarray]:
    """Turn true lines into declared lines for the fraudulent declarations; revenue evaded per kind."""
    n = len(kinds)
    goods, qty = truth.goods.copy(), truth.quantity.copy()
    weight, value = truth.weight_kg.copy(), truth.value.copy()
    origin, dispatch = ctx.origin.copy(), ctx.dispatch.copy()
    revenue = np.zeros((n, len(KINDS)))
    t_duty = duty_true[target]

    m = np.flatnonzero(_has(kinds, UNDERVALUATION))
    ratio = rng.uniform(0.3, 0.7, len(m))
    lines = target[m]
    before = value[lines]
    after = np.where(rng.random(len(m)) < 0.5, np.round(before * ratio, -1), np.round(before * ratio, 2))
    value[lines] = np.maximum(after, 1.0)
    revenue[m, UNDERVALUATION] = t_duty[m] * (before - value[lines])

    m = np.flatnonzero(_has(kinds, QUANTITY))
    lines = target[m]
    ratio = rng.uniform(0.4, 0.8, len(m))
    counted = _COUNTED_UNITS[GOODS.unit[goods[lines]]]
    new_qty = np.where(counted, np.maximum(np.floor(qty[lines] * ratio), 1.0), np.maximum(np.round(qty[lines] * ratio, 1), 0.1))
    ratio = new_qty / qty[lines]
    before = value[lines]
    value[lines] = np.round(before * ratio, 2)
    weight[lines] = np.where(rng.random(len(m)) < 0.3, np.round(weight[lines] * ratio, 1), weight[lines])
    qty[lines] = new_qty
    revenue[m, QUANTITY] = t_duty[m] * (before - value[lines])

    m = np.flatnonzero(_has(kinds, WEIGHT))
    lines = target[m]
    ratio = rng.uniform(0.4, 0.75, len(m))
    weight[lines] = np.maximum(np.round(weight[lines] * ratio, 1), 0.1)
    revenue[m, WEIGHT] = 0.5 * t_duty[m] * value[lines] * (1 - ratio)

    m = np.flatnonzero(_has(kinds, MISDECLARED_GOODS))
    lines = target[m]
    true_g = goods[lines]
    lo, hi = GOODS.lookalike_ptr[true_g], GOODS.lookalike_ptr[true_g + 1]
    fake = GOODS.lookalike[lo + (rng.random(len(m)) * (hi - lo)).astype(np.int64)]
    qty[lines] = _convert_quantity(qty[lines], weight[lines], true_g, fake)
    goods[lines] = fake
    revenue[m, MISDECLARED_GOODS] = value[lines] * (
        effective_duty(true_g, origin[m]) - effective_duty(fake, origin[m])
    )

    m = np.flatnonzero(_has(kinds, ORIGIN))
    laundering = np.array([COUNTRY_INDEX[c] for c in ORIGIN_LAUNDERING])
    hubs = np.array([COUNTRY_INDEX[c] for c in HUBS])
    origin[m] = laundering[rng.integers(0, len(laundering), len(m))]
    dispatch[m] = np.where(rng.random(len(m)) < 0.7, hubs[rng.integers(0, len(hubs), len(m))], origin[m])
    dmask = np.isin(truth.decl, m)
    owed = np.bincount(truth.decl[dmask], value[dmask] * effective_duty(goods[dmask], ctx.origin[truth.decl[dmask]]), n)
    paid = np.bincount(truth.decl[dmask], value[dmask] * effective_duty(goods[dmask], origin[truth.decl[dmask]]), n)
    revenue[m, ORIGIN] = (owed - paid)[m]

    declared = replace(truth, goods=goods, quantity=qty, weight_kg=weight, value=value)
    return declared, origin, dispatch, np.maximum(revenue, 0.0)


def _convert_quantity(qty: np.ndarray, weight: np.ndarray, true_g: np.ndarray, fake: np.ndarray) -> np.ndarray:
    """Quantity expressed in the look-alike's unit (kg when it is weighed, pieces by unit weight otherwise)."""
    true_unit, fake_unit = GOODS.unit[true_g], GOODS.unit[fake]
    net = np.maximum(np.round(weight / 1.06, 1), 0.1)
    by_piece = np.maximum(np.round(net / GOODS.unit_kg[fake]), 1.0)
    weighed = UNITS.index("KGM")
    converted = np.where(fake_unit == weighed, net, by_piece)
    return np.where(true_unit == fake_unit, qty, converted)


def _conceal(rng: np.random.Generator, actors: Actors, kinds: np.ndarray, revenue: np.ndarray) -> dict[str, np.ndarray]:
    """Undeclared goods hidden in the container of concealment frauds (revenue written in place)."""
    n = len(kinds)
    m = np.flatnonzero(_has(kinds, CONCEALMENT))
    pick = rng.integers(0, len(CONTRABAND), len(m))
    hidden_goods, concealment = np.full(n, -1), np.full(n, -1)
    hidden_goods[m] = [GOODS.index(CONTRABAND[p][0]) for p in pick]
    concealment[m] = [CONCEALMENTS.index(CONTRABAND[p][1]) for p in pick]
    hidden_value = rng.lognormal(np.log(25_000.0), 0.5, len(m))
    unit_price = actors.price[hidden_goods[m], COUNTRY_INDEX["CN"]]
    max_kg = np.where(np.isin(concealment[m], _STRUCTURAL), 400.0, 1_500.0) * rng.uniform(0.3, 1.0, len(m))
    unit_kg = GOODS.unit_kg[hidden_goods[m]] * 1.1
    quantity = np.zeros(n)
    quantity[m] = np.maximum(np.round(np.minimum(hidden_value / unit_price, max_kg / unit_kg)), 1.0)
    hidden_kg = np.zeros(n)
    hidden_kg[m] = np.round(quantity[m] * unit_kg, 1)
    revenue[m, CONCEALMENT] = quantity[m] * unit_price * GOODS.duty[hidden_goods[m]]
    return {"concealment": concealment, "hidden_goods": hidden_goods, "hidden_quantity": quantity, "hidden_kg": hidden_kg}
