"""Physics check: image-implied mass and dual-energy material against the declaration."""

from __future__ import annotations

import pytest

from zeikan.images.physics import PhysicsCalibration, check, declared_material
from zeikan.sim.xray import render
from zeikan.sim.xray_calibration import physics_calibration
from zeikan.sim.xray_loads import Goods, XrayLoad


@pytest.fixture(scope="module")
def cal() -> PhysicsCalibration:
    return physics_calibration(("Aster-6MV",))


def _load(kg: float, material: str = "organic", hs: str = "610910", length_ft: int = 40) -> XrayLoad:
    return XrayLoad("S1", "MSCU1234565", "Aster-6MV", length_ft, (Goods(hs, "goods", 1, kg, material),), seed=3)


@pytest.mark.parametrize("kg,length_ft", [(3000.0, 20), (9000.0, 40)])
def test_implied_mass_matches_true_mass(cal, kg, length_ft):
    result = check(render(_load(kg, length_ft=length_ft)).image, [("610910", kg)], cal)
    assert result.implied_mass_kg == pytest.approx(kg, rel=0.1)
    assert result.score == 0.0 and result.reasons == ()


def test_underdeclared_weight_is_a_reason(cal):
    result = check(render(_load(9000.0)).image, [("610910", 4000.0)], cal)
    assert result.score > 0.5 and "more than the declared 4.0 t" in result.reasons[0]


def test_goods_unlike_the_declaration_are_a_reason(cal):
    image = render(_load(6000.0, material="metal", hs="721049")).image
    assert check(image, [("721049", 6000.0)], cal).score == 0.0
    result = check(image, [("610910", 6000.0)], cal)
    assert result.score >= 0.5 and any("declared goods are mostly organic" in r for r in result.reasons)


def test_declared_material_by_chapter_and_round_trip(cal):
    assert [declared_material(h) for h in ("0901", "7210", "7801", "8471", "xx")] == ["organic", "metal", "heavy", "inorganic", "organic"]
    assert PhysicsCalibration.from_dict(cal.to_dict()) == cal
