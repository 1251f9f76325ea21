"""P(fraud | what the declaration shows), the hidden facts summed out: the Bayes oracle of the model benchmarks.

:func:`zeikan.sim.posterior.fraud_posterior` (kept as the first oracle) starts from the fraud draw's
probability, which the generator computes from the TRUE origin, dispatch and goods, and it reads the
line the fraud was put on, chosen from the true values. A declaration laundered from CN through VN so
gets the prior of anti-dumped goods from CN although it declares VN. This oracle conditions only on
what is observable at PRE_ARRIVAL (the declared lines, origin, dispatch, mode, lead time, whether
there are containers) and on the world's fixed parameters (the traders as the generator draws them:
hidden propensity, network, price factor, goods list, main origin; the catalogue; the day's
intercept and kind weights), and sums over the hidden states that could have produced the declaration:

    P(fraud, decl)  = Σ_state Σ_kind Σ_line P(state) · p(state) · q_kind(state, line) · P(decl | state, kind, line)
    P(honest, decl) = P(declared state) · (1 − p(declared state))

* state: the true origin and dispatch and the true goods of each line. Under undervaluation, quantity,
  weight and concealment it is the declared one; under misdeclaration one line's true good is a good
  of the importer's list whose look-alike is the declared code; under origin fraud the origin is CN
  (true dispatch CN or a hub) and every line is priced at CN.
* P(state): the importer's main origin 75 % of the time, else the sourcing profile of the first
  line's goods; the dispatch a hub 15 % of the time; each line's good from the importer's list
  (a declared good outside the list cannot be honest).
* p(state): the fraud draw's logit (:func:`zeikan.sim.fraud.fraud_logit`) at that state plus the
  day's intercept.
* q: the draw's kind weights (:func:`zeikan.sim.fraud.kind_weights`) for the fraud's line, which is
  the line of highest true value × duty (ties: the first).
* P(decl | ...): the generator's noise models: unit price lognormal σ 0.2 around the importer's
  price, weight per unit around the packing, the fraud's ratios integrated over a grid, the
  tens-rounding of undervalued values, the conversion of quantities into the look-alike's unit, the
  laundering origin and hub dispatch drawn by origin fraud, the filing lead time.

Approximations: one kind per fraud (the 15 % second kind is ignored); concealment has likelihood
ratio 1 (the containers' count, which its hidden weight may shift, is ignored); a quantity converted
into the look-alike's unit has its weight per unit modelled as normal with sd 0.02.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr

from zeikan.sim.actors import Actors
from zeikan.sim.catalog import (
    AD_ORIGINS, COUNTRY_INDEX, GOODS, HUBS, ORIGIN_LAUNDERING, effective_duty, origin_weights,
)
from zeikan.sim.fraud import (
    CONCEALMENT, MISDECLARED_GOODS, ORIGIN, QUANTITY, UNDERVALUATION, WEIGHT, FraudContext, Lines, fraud_logit,
    kind_weights, richest_line,
)
from zeikan.sim.posterior import GRID, HIDING, PACKING_MU, SIGMA_UV, SIGMA_W, lead_ratio

MAIN_ORIGIN_SHARE, TRANSIT_SHARE = 0.75, 0.15
"""The generator's origin (the importer's main one, else by goods profile) and hub dispatch shares (``world``)."""
LAUNDER_HUB_SHARE = 0.7
"""Share of origin frauds dispatched from a hub (``fraud._apply``)."""
CONVERTED_SD = 0.02
"""Sd of the log weight per unit of a quantity converted into the look-alike's unit (approximation)."""
PACKING_SD = float(np.sqrt(0.05**2 + np.log(1.12 / 1.02) ** 2 / 12))
"""Sd of the log packing factor lognormal(0, 0.05) x U(1.02, 1.12) (``world._true_lines``)."""
"""Sd of the log weight per unit of a quantity converted into the look-alike's unit (approximation)."""
_HUB_IDX = np.array([COUNTRY_INDEX[c] for c in HUBS])
_LAUNDER_IDX = np.array([COUNTRY_INDEX[c] for c in ORIGIN_LAUNDERING])
_AD_IDX = np.array([COUNTRY_INDEX[c] for c in AD_ORIGINS])
_ORIGIN_W = origin_weights()
_N_LOOK = np.diff(GOODS.lookalike_ptr)
_LOG_RATIO_U = np.log(0.3 + 0.4 * GRID)
_LOG_RATIO_Q = np.log(0.4 + 0.4 * GRID)
_LOG_RATIO_W = np.log(0.4 + 0.35 * GRID)
_MAX_LOG = 50.0


@dataclass(frozen=True)
class Shown:
    """What a day's declarations show (columnar; ``lines.decl[i]`` is the declaration of line i)."""

    importer: np.ndarray
    lines: Lines
    item_ptr: np.ndarray
    origin: np.ndarray
    dispatch: np.ndarray
    mode: np.ndarray
    lead_h: np.ndarray
    has_container: np.ndarray
    new_importer: np.ndarray


def observed_posterior(actors: Actors, shown: Shown, intercept: float, kind_weight: np.ndarray) -> np.ndarray:
    """P(fraud | declaration) per declaration, the hidden state summed out (see the module docstring)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        return _Posterior(actors, shown, intercept, kind_weight).value()


def _log_norm(x: np.ndarray, sd: float) -> np.ndarray:
    return -0.5 * (x / sd) ** 2 - np.log(sd)


def _log_weight(weight_kg: np.ndarray, log_kg: np.ndarray) -> np.ndarray:
    """log P(declared weight | exp(log_kg) kg before packing): packed, rounded to 0.1 kg, at least 0.1 kg."""
    m = log_kg + PACKING_MU
    hi = (np.log(weight_kg + 0.05) - m) / PACKING_SD
    lo = np.where(weight_kg < 0.15, -np.inf, (np.log(np.maximum(weight_kg - 0.05, 1e-12)) - m) / PACKING_SD)
    flip = lo > 0
    a, b = np.where(flip, -hi, lo), np.where(flip, -lo, hi)
    la, lb = log_ndtr(a), log_ndtr(b)
    return np.maximum(lb + np.log1p(-np.exp(np.minimum(la - lb, 0.0))), -_MAX_LOG * 10)


def _ratio(log_num: np.ndarray, log_den: np.ndarray) -> np.ndarray:
    return np.exp(np.clip(log_num - log_den, -_MAX_LOG, _MAX_LOG))


class _Posterior:
    """The masses of the honest and fraud explanations of each declaration."""

    def __init__(self, actors: Actors, shown: Shown, intercept: float, kind_weight: np.ndarray) -> None:
        self.a, self.s, self.intercept, self.kind_weight = actors, shown, intercept, kind_weight
        lines = shown.lines
        self.n = len(shown.importer)
        self.decl = lines.decl
        self.imp = shown.importer[lines.decl]
        self.o = shown.origin[lines.decl]
        qty = np.maximum(lines.quantity, 1e-9)
        self.log_uv = np.log(lines.value / qty / actors.price_factor[self.imp])
        self.r = self.log_uv - np.log(actors.price[lines.goods, self.o])
        self.w = np.log(lines.weight_kg / qty / GOODS.unit_kg[lines.goods]) - PACKING_MU
        self.log_kg = np.log(qty * GOODS.unit_kg[lines.goods])
        self.in_list = _in_goods_list(actors, self.imp, lines.goods)
        self.missing = np.bincount(self.decl, ~self.in_list, self.n)
        self.before, self.after = _neighbour_max(lines.value * effective_duty(lines.goods, self.o), self.decl)

    def value(self) -> np.ndarray:
        """P(fraud | declaration)."""
        s = self.s
        base = self._origin_prior(s.importer, s.origin, s.lines.goods[s.item_ptr[:-1]])
        base = base * _dispatch_prior(s.origin, s.dispatch)
        base = base * (self.missing == 0)
        p = self._prior(s.origin, s.dispatch, s.lines.goods)
        target = richest_line(self.decl, s.lines.value * effective_duty(s.lines.goods, self.o), self.n)
        can_cheat = self._kinds(s.lines.goods[target], s.origin, np.arange(self.n)).sum(axis=1) > 0
        honest = base * (1.0 - p * can_cheat)
        fraud = base * p * self._same_state(target) + self._misdeclared() + self._origin()
        fraud = fraud * lead_ratio(s.lead_h, s.mode)
        total = honest + fraud
        return np.where(total > 0, fraud / np.where(total > 0, total, 1.0), 0.0)

    def _prior(self, origin: np.ndarray, dispatch: np.ndarray, goods: np.ndarray,
               rows: np.ndarray | None = None, item_ptr: np.ndarray | None = None) -> np.ndarray:
        """p(state): the draw's probability of fraud at the given origin, dispatch and line goods."""
        s = self.s
        rows = np.arange(self.n) if rows is None else rows
        item_ptr = s.item_ptr if item_ptr is None else item_ptr
        ctx = FraudContext(importer=s.importer[rows], origin=origin, dispatch=dispatch,
                           new_importer=s.new_importer[rows], has_container=s.has_container[rows], item_ptr=item_ptr)
        decl = np.repeat(np.arange(len(rows)), np.diff(item_ptr))
        unused = np.zeros(len(goods))
        logit = fraud_logit(self.a, ctx, Lines(decl=decl, goods=goods, quantity=unused, weight_kg=unused, value=unused))
        return 1.0 / (1.0 + np.exp(-(logit + self.intercept)))

    def _kinds(self, target_goods: np.ndarray, origin: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """[row, kind] kind weights (unnormalised) for a fraud on a line of these goods."""
        return kind_weights(self.a, self.s.importer[rows], target_goods, origin, self.s.has_container[rows],
                            self.kind_weight)

    def _share(self, target_goods: np.ndarray, origin: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """[row, kind] q: the chance of each kind given fraud on a line of these goods."""
        q = self._kinds(target_goods, origin, rows)
        total = q.sum(axis=1, keepdims=True)
        return np.where(total > 0, q / np.where(total > 0, total, 1.0), 0.0)

    def _origin_prior(self, importer: np.ndarray, origin: np.ndarray, first_goods: np.ndarray) -> np.ndarray:
        """P(origin | importer, first line's goods)."""
        main = (self.a.main_origin[importer] == origin) * MAIN_ORIGIN_SHARE
        return main + (1.0 - MAIN_ORIGIN_SHARE) * _ORIGIN_W[GOODS.profile[first_goods], origin]

    def _same_state(self, target: np.ndarray) -> np.ndarray:
        """Σ over lines and kinds that keep the goods and origin: q × P(decl | fraud) / P(decl | honest)."""
        lines, decl, line = self.s.lines, self.decl, np.arange(len(self.decl))
        duty = effective_duty(lines.goods, self.o)
        true_score = lines.value[:, None] * duty[:, None]
        q = self._share(lines.goods, self.o, decl)
        is_target = (line == target[decl]).astype(float)
        log_f = _log_norm(self.r, SIGMA_UV)
        beats_u = self._beats(true_score / np.exp(_LOG_RATIO_U)[None, :])
        shifted = _ratio(_log_norm(self.r[:, None] - _LOG_RATIO_U[None, :], SIGMA_UV), log_f[:, None])
        tens = (np.round(lines.value, 2) % 10.0) == 0
        under = (shifted * beats_u).mean(axis=1) * np.where(tens, 0.505 / 0.011, 0.495 / 0.989)
        kg, log_g = lines.weight_kg[:, None], _log_weight(lines.weight_kg, self.log_kg)[:, None]
        beats_q = self._beats(true_score / np.exp(_LOG_RATIO_Q)[None, :])
        light = _ratio(_log_weight(kg, self.log_kg[:, None] - _LOG_RATIO_Q[None, :]), log_g)
        quantity = (beats_q * (0.3 + 0.7 * light)).mean(axis=1)
        weight = is_target * _ratio(_log_weight(kg, self.log_kg[:, None] + _LOG_RATIO_W[None, :]), log_g).mean(axis=1)
        per_line = (q[:, UNDERVALUATION] * under + q[:, QUANTITY] * quantity + q[:, WEIGHT] * weight
                    + q[:, CONCEALMENT] * is_target)
        return np.bincount(decl, per_line, self.n)

    def _beats(self, score: np.ndarray) -> np.ndarray:
        """Whether a line with this true score [line, grid] would be its declaration's fraud line."""
        return (score > self.before[:, None]) & (score >= self.after[:, None])

    def _misdeclared(self) -> np.ndarray:
        """Σ over a line and the good it may hide: the mass of the misdeclaration explanation."""
        s, lines = self.s, self.s.lines
        counts = np.array([len(HIDING[g]) for g in lines.goods])
        line = np.repeat(np.arange(len(lines.goods)), counts)
        if not len(line):
            return np.zeros(self.n)
        hidden = np.concatenate([HIDING[g] for g in lines.goods[counts > 0]])
        d, shown_g, o = self.decl[line], lines.goods[line], self.o[line]
        listed = _in_goods_list(self.a, self.imp[line], hidden) & (self.missing[d] - ~self.in_list[line] == 0)
        score = lines.value[line] * effective_duty(hidden, o)
        beats = (score > self.before[line]) & (score >= self.after[line])
        rows, goods, ptr = _with_line_replaced(s.item_ptr, lines.goods, d, line, hidden)
        p = self._prior(s.origin[d], s.dispatch[d], goods, rows, ptr)
        q = self._share(hidden, o, d)[:, MISDECLARED_GOODS]
        first = np.where(line == s.item_ptr[d], hidden, lines.goods[s.item_ptr[d]])
        base = self._origin_prior(s.importer[d], s.origin[d], first) * _dispatch_prior(s.origin[d], s.dispatch[d])
        same_unit = GOODS.unit[hidden] == GOODS.unit[shown_g]
        d_price = np.log(self.a.price[hidden, o] / self.a.price[shown_g, o])
        d_kg = np.log(GOODS.unit_kg[hidden] / GOODS.unit_kg[shown_g])
        r, w, kg, log_kg = self.r[line], self.w[line], lines.weight_kg[line], self.log_kg[line]
        log_honest = _log_norm(r, SIGMA_UV)
        same = _ratio(_log_norm(r - d_price, SIGMA_UV) + _log_weight(kg, log_kg + d_kg),
                      log_honest + _log_weight(kg, log_kg))
        converted = _ratio(_log_norm(r - d_price + d_kg - np.log(1.06) + PACKING_MU, float(np.hypot(SIGMA_UV, SIGMA_W)))
                           + _log_norm(w - np.log(1.06) + PACKING_MU, CONVERTED_SD), log_honest + _log_norm(w, SIGMA_W))
        lr = np.where(same_unit, same, converted)
        mass = base * listed * beats * p * q * lr / _N_LOOK[hidden]
        return np.bincount(d, mass, self.n)

    def _origin(self) -> np.ndarray:
        """The mass of the origin-laundering explanation: the goods came from an anti-dumped origin."""
        s, lines = self.s, self.s.lines
        launder = np.isin(s.origin, _LAUNDER_IDX)
        hub = np.isin(s.dispatch, _HUB_IDX)
        declared = launder / len(_LAUNDER_IDX) * (LAUNDER_HUB_SHARE * hub / len(_HUB_IDX)
                                                  + (1.0 - LAUNDER_HUB_SHARE) * (s.dispatch == s.origin))
        declared = declared * (self.missing == 0)
        total = np.zeros(self.n)
        rows = np.arange(self.n)
        for c in _AD_IDX.tolist():
            origin = np.full(self.n, c)
            duty = effective_duty(lines.goods, np.full(len(lines.goods), c))
            target = richest_line(self.decl, lines.value * duty, self.n)
            q = self._share(lines.goods[target], origin, rows)[:, ORIGIN]
            p = ((1.0 - TRANSIT_SHARE) * self._prior(origin, origin, lines.goods)
                 + TRANSIT_SHARE * self._prior(origin, np.full(self.n, _HUB_IDX[0]), lines.goods))
            r_c = self.log_uv - np.log(self.a.price[lines.goods, c])
            log_lr = np.bincount(self.decl, _log_norm(r_c, SIGMA_UV) - _log_norm(self.r, SIGMA_UV), self.n)
            prior = self._origin_prior(s.importer, origin, lines.goods[s.item_ptr[:-1]])
            total += declared * prior * p * q * np.exp(np.clip(log_lr, -_MAX_LOG, _MAX_LOG))
        return total


def _dispatch_prior(origin: np.ndarray, dispatch: np.ndarray) -> np.ndarray:
    """P(dispatch | origin): a hub (drawn among the hubs) 15 % of the time unless it is the origin itself."""
    hub_share = TRANSIT_SHARE / len(_HUB_IDX)
    same = (1.0 - TRANSIT_SHARE) + hub_share * np.isin(origin, _HUB_IDX)
    return np.where(dispatch == origin, same, np.isin(dispatch, _HUB_IDX) * hub_share)


def _in_goods_list(actors: Actors, importer: np.ndarray, goods: np.ndarray) -> np.ndarray:
    """Whether each good is in its importer's list of traded goods."""
    owner = np.repeat(np.arange(actors.n_importers), np.diff(actors.goods_ptr))
    keys = owner * len(GOODS) + actors.goods
    return np.isin(importer * len(GOODS) + goods, keys)


def _neighbour_max(score: np.ndarray, decl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per line, the highest score of the earlier and of the later lines of its declaration (-inf if none)."""
    before, after = np.full(len(score), -np.inf), np.full(len(score), -np.inf)
    idx = np.arange(len(score))
    for k in range(1, int(np.bincount(decl).max(initial=1))):
        j = idx - k
        ok = (j >= 0) & (decl[np.maximum(j, 0)] == decl)
        before = np.where(ok, np.maximum(before, score[np.maximum(j, 0)]), before)
        j = idx + k
        ok = (j < len(score)) & (decl[np.minimum(j, len(score) - 1)] == decl)
        after = np.where(ok, np.maximum(after, score[np.minimum(j, len(score) - 1)]), after)
    return before, after


def _with_line_replaced(item_ptr: np.ndarray, goods: np.ndarray, decl: np.ndarray, line: np.ndarray,
                        hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One hypothetical declaration per (decl, line, hidden good): its rows, line goods and item pointers."""
    count = item_ptr[decl + 1] - item_ptr[decl]
    ptr = np.concatenate(([0], np.cumsum(count)))
    src = np.repeat(item_ptr[decl] - ptr[:-1], count) + np.arange(ptr[-1])
    out = goods[src].copy()
    out[ptr[:-1] + line - item_ptr[decl]] = hidden
    return decl, out, ptr
