"""The Bayes oracle: P(fraud | what the declaration shows), the hidden origin, goods and dispatch summed out."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from zeikan.sim.actors import build_actors
from zeikan.sim.catalog import COUNTRY_INDEX, GOODS, ORIGIN_LAUNDERING, TRANSPORT_MODES
from zeikan.sim.fraud import KINDS, ORIGIN, Lines
from zeikan.sim.observed_posterior import Shown, observed_posterior
from zeikan.sim.settings import SimSettings
from zeikan.sim.world import build_world, generate_day

CN, VN, SG = COUNTRY_INDEX["CN"], COUNTRY_INDEX["VN"], COUNTRY_INDEX["SG"]
KIND_WEIGHT = np.array(SimSettings().kind_weights)


def _one_line(actors, good: int, price_origin: int) -> Shown:  # type: ignore[no-untyped-def]
    """Importer 0 declares 100 units of ``good`` from VN via SG, priced at ``price_origin``'s norm."""
    qty = np.array([100.0])
    value = qty * actors.price[good, price_origin] * actors.price_factor[0]
    lines = Lines(decl=np.array([0]), goods=np.array([good]), quantity=qty,
                  weight_kg=np.round(qty * GOODS.unit_kg[good] * 1.07, 1), value=np.round(value, 2))
    return Shown(importer=np.array([0]), lines=lines, item_ptr=np.array([0, 1]), origin=np.array([VN]),
                 dispatch=np.array([SG]), mode=np.array([TRANSPORT_MODES.index("SEA")]), lead_h=np.array([100.0]),
                 has_container=np.array([True]), new_importer=np.array([False]))


def _trading(actors, good: int, main_origin: int):  # type: ignore[no-untyped-def]
    """The actors with importer 0 trading only ``good``, mainly from ``main_origin``."""
    goods_ptr = np.concatenate(([0], actors.goods_ptr[1:] - actors.goods_ptr[1] + 1))
    goods = np.concatenate(([good], actors.goods[actors.goods_ptr[1]:]))
    main = actors.main_origin.copy()
    main[0] = main_origin
    return replace(actors, goods_ptr=goods_ptr, goods=goods, main_origin=main)


def test_a_declared_origin_is_weighed_against_the_hidden_one_the_importer_usually_ships_from() -> None:
    actors = build_actors(np.random.default_rng(1), 200, 20, 0)
    good = int(np.flatnonzero(GOODS.anti_dumping)[0])
    shown = _one_line(actors, good, CN)
    from_cn = observed_posterior(_trading(actors, good, CN), shown, -4.0, KIND_WEIGHT)[0]
    from_vn = observed_posterior(_trading(actors, good, VN), shown, -4.0, KIND_WEIGHT)[0]
    assert from_cn > 3 * from_vn  # P(true origin CN | importer) is summed over, not read from the truth
    no_laundering = KIND_WEIGHT * (np.arange(len(KINDS)) != ORIGIN)
    assert observed_posterior(_trading(actors, good, CN), shown, -4.0, no_laundering)[0] < from_cn / 3


def test_goods_that_pay_no_anti_dumping_duty_carry_no_laundering_suspicion() -> None:
    actors = build_actors(np.random.default_rng(1), 200, 20, 0)
    good = int(np.flatnonzero(~GOODS.anti_dumping & (np.diff(GOODS.lookalike_ptr) == 0))[0])
    shown = _one_line(actors, good, VN)
    from_cn = observed_posterior(_trading(actors, good, CN), shown, -4.0, KIND_WEIGHT)[0]
    from_vn = observed_posterior(_trading(actors, good, VN), shown, -4.0, KIND_WEIGHT)[0]
    assert from_cn == pytest.approx(from_vn, rel=1e-12)


def test_a_good_outside_the_importers_list_cannot_be_honest() -> None:
    actors = build_actors(np.random.default_rng(1), 200, 20, 0)
    hidden = int(np.flatnonzero(np.diff(GOODS.lookalike_ptr) > 0)[0])
    shown_good = int(GOODS.lookalike[GOODS.lookalike_ptr[hidden]])
    shown = _one_line(actors, shown_good, VN)
    assert observed_posterior(_trading(actors, hidden, VN), shown, -4.0, KIND_WEIGHT)[0] == 1.0
    assert observed_posterior(_trading(actors, shown_good, VN), shown, -4.0, KIND_WEIGHT)[0] < 0.5


def _days(settings: SimSettings, days: int) -> dict[str, np.ndarray]:
    world = build_world(settings)
    out = [generate_day(world, d) for d in range(days)]
    laundering = [COUNTRY_INDEX[c] for c in ORIGIN_LAUNDERING]
    return {"fraud": np.concatenate([d.fraud.is_fraud for d in out]).astype(float),
            "prior": np.concatenate([d.fraud.probability for d in out]),
            "first": np.concatenate([d.posterior for d in out]),
            "observed": np.concatenate([d.observed_posterior for d in out]),
            "laundering": np.concatenate([np.isin(d.origin, laundering) for d in out])}


def _sd(p: np.ndarray) -> float:
    return float(np.sqrt((p * (1 - p)).sum()))


def test_it_is_calibrated_where_the_origin_is_hidden() -> None:
    days = _days(SimSettings(seed=7, per_day=2000, mechanisms=("ORIGIN",)), 5)
    slice_ = days["laundering"]
    assert days["fraud"][slice_].sum() >= 20 and days["fraud"][~slice_].sum() == 0
    p = days["observed"][slice_]
    assert abs(p.sum() - days["fraud"][slice_].sum()) <= 3 * _sd(p) + 1
    assert days["observed"][~slice_].max() == 0.0


def test_on_a_small_world_no_ranking_beats_it_and_its_top_is_calibrated() -> None:
    days = _days(SimSettings(seed=5, per_day=1000), 6)
    fraud, observed = days["fraud"], days["observed"]
    assert abs(observed.sum() - fraud.sum()) <= 3 * _sd(observed)
    for rate in (0.01, 0.02, 0.05, 0.10):
        k = int(np.ceil(rate * len(fraud)))
        top = {name: np.argsort(-days[name], kind="stable")[:k] for name in ("observed", "first", "prior")}
        hits = {name: fraud[t].sum() for name, t in top.items()}
        sd = _sd(observed[top["observed"]])
        assert abs(hits["observed"] - observed[top["observed"]].sum()) <= 3 * sd + 1
        assert hits["observed"] >= hits["first"] - 2 * sd - 1  # the first oracle reads hidden facts, and still
        assert hits["observed"] > 1.3 * hits["prior"]
