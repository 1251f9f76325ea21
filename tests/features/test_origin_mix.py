"""The origin checks (imp_ad_origin_lr, hs_ad_origin_lr): hand-checked values on both paths."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from zeikan.features.batch import batch_features
from zeikan.features.names import FEATURE_NAMES
from zeikan.features.online import OnlineFeatureState

from feature_factories import DAY, T0, make_declaration, make_item

STEEL, PHONES = "72085100", "85171200"
"""Steel pays an anti-dumping duty from CN in the shipped tariff; phones pay none."""


def _history() -> list[dict]:
    """I1 buys steel from CN three times, then I2 and I1 declare steel from VN, then phones from VN, steel from CN."""
    rows = [("I1", STEEL, "CN")] * 3 + [("I2", STEEL, "VN"), ("I1", STEEL, "VN"), ("I1", PHONES, "VN"), ("I1", STEEL, "CN")]
    return [make_declaration(f"D{i}", T0 + i * DAY, importer=imp, origin=origin, dispatch=origin,
                             items=[make_item(hs=hs)]) for i, (imp, hs, origin) in enumerate(rows)]


def _online(decls: list[dict]) -> dict[str, dict[str, float]]:
    state, out = OnlineFeatureState(), {}
    for d in decls:
        out[d["declaration_id"]] = state.features(d)
        state.observe_declaration(d)
    return out


def _batch(decls: list[dict]) -> dict[str, dict[str, float]]:
    frame = batch_features(decls, [])
    return {row["declaration_id"]: {n: row[n] for n in FEATURE_NAMES} for row in frame.iter_rows(named=True)}


@pytest.mark.parametrize("path", [_online, _batch], ids=["online", "batch"])
def test_earlier_origins_of_the_importer_and_the_hs(path: Callable[[list[dict]], dict[str, dict[str, float]]]) -> None:
    feats = path(_history())
    values = {d: (f["imp_ad_origin_lr"], f["hs_ad_origin_lr"]) for d, f in feats.items()}
    assert values["D0"] == (0.0, 0.0)  # declared from the anti-dumped origin itself: no check
    assert values["D3"] == pytest.approx((0.0, math.log(3.5 / 0.5)))  # a new importer; the HS came from CN 3 times
    assert values["D4"] == pytest.approx((math.log(3.5 / 0.5), math.log(3.5 / 1.5)))  # I1 switched from CN to VN
    assert values["D5"] == (0.0, 0.0)  # phones pay no anti-dumping duty from any origin
    assert values["D6"] == (0.0, 0.0)
