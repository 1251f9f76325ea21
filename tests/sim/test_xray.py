"""The synthetic X-ray renderer (sim/xray.py): physics, concealments, scanner models, store wiring."""

from __future__ import annotations

import dataclasses
import uuid
from types import SimpleNamespace

import numpy as np
import pytest

from zeikan.images.store import open_store
from zeikan.sim.xray import render, render_images
from zeikan.sim.xray_loads import Goods, XrayLoad, as_xray_load, random_loads
from zeikan.sim.xray_physics import SCANNER_MODELS


def _load(material: str = "organic", kg: float = 6000.0, **over) -> XrayLoad:
    base = dict(scan_id="S1", container_id="MSCU1234565", scanner_model="Aster-6MV", length_ft=40,
                true_goods=(Goods("610910", "shirts", 100, kg, material),), seed=7)
    base.update(over)
    return XrayLoad(**base)


def test_same_load_same_image_and_scanners_differ():
    a, b = render(_load()), render(_load())
    assert np.array_equal(a.image.pixels, b.image.pixels) and a.raw == b.raw
    shapes = {render(_load(scanner_model=m)).width for m in SCANNER_MODELS}
    assert len(shapes) == len(SCANNER_MODELS)  # native resolutions differ ...
    canon = {render(_load(scanner_model=m)).image.pixels.shape for m in SCANNER_MODELS}
    assert len(canon) == 1  # ... the canonical pitch does not


@pytest.mark.parametrize("kind", ["wall", "floor", "among_goods"])
def test_concealment_adds_attenuation_inside_its_box(kind):
    kg = 0.0 if kind == "wall" else 6000.0  # goods move back behind a false wall: compare empty containers
    clean = render(_load(seed=11, kg=kg)).image.attenuation()[1]
    hidden = render(_load(seed=11, kg=kg, concealment=kind))
    (box,) = hidden.boxes
    x0, y0 = int(box.x), int(box.y)
    x1, y1 = int(np.ceil(box.x + box.w)), int(np.ceil(box.y + box.h))
    added = hidden.image.attenuation()[1][y0:y1, x0:x1].sum() - clean[y0:y1, x0:x1].sum()
    assert added > 0.05 * (y1 - y0) * (x1 - x0)


def test_dual_energy_ratio_separates_materials():
    empty = render(_load(kg=0.0)).image.attenuation()
    ratios = []
    for material in ("organic", "inorganic", "metal", "heavy"):
        att = render(_load(material=material, kg=8000.0)).image.attenuation() - empty
        mask = att[1] > 0.5
        ratios.append(att[0][mask].sum() / att[1][mask].sum())
    assert ratios == sorted(ratios, reverse=True)


def test_single_energy_and_duck_typed_loads():
    single = render(_load(energy="SINGLE"))
    assert single.image.pixels.shape[0] == 1 and single.image.meta.energies_kv == (6000,)
    sim_load = SimpleNamespace(scan_id="SC-9", container_id="TGHU0000011", scanner_id="SCN-3", energy="DUAL",
                               true_goods=[SimpleNamespace(hs_code="7210", description="steel", quantity=1,
                                                           gross_weight_kg=9000.0, material_hint="metal")],
                               declared_goods=[], concealment_kind="floor", container_length_ft=20)
    load = as_xray_load(sim_load)
    assert load.length_ft == 20 and load.true_goods[0].material == "metal" and load.concealment == "floor"
    assert load.scanner_model in SCANNER_MODELS or render(load).image.meta.scanner_model in SCANNER_MODELS


def test_render_images_writes_through_the_store():
    url = f"memory://zeikan-xray-{uuid.uuid4().hex}"
    loads = random_loads(3, seed=5)
    refs = render_images(loads, url)
    assert set(refs) == {lo.scan_id for lo in loads}
    store = open_store(url)
    for scan_id, (uri, sha) in refs.items():
        assert store.get(uri).meta.scan_id == scan_id and sha in store


def test_random_loads_are_reproducible():
    assert random_loads(5, seed=3) == random_loads(5, seed=3)
    assert any(lo.concealment for lo in random_loads(20, seed=3)) and dataclasses.is_dataclass(random_loads(1, 1)[0])


@pytest.mark.parametrize("model", list(SCANNER_MODELS))
def test_empty_container_is_faint_and_goods_are_not(model):
    empty = render(_load(kg=0.0, scanner_model=model)).image.attenuation()[1]
    full = render(_load(kg=12000.0, scanner_model=model)).image.attenuation()[1]
    assert np.median(empty[50:200, 200:1000]) < 0.3 < np.median(full[150:240, 40:200])


def test_simulator_container_load_is_rendered_with_its_concealed_package():
    from zeikan.sim.cargo import CargoGoods, ContainerLoad

    shirts = CargoGoods("610910", "shirts", 1000, "PCE", 4000.0, "textile")
    cigarettes = CargoGoods("240220", "cigarettes", 100, "KGM", 120.0, "tobacco")
    load = ContainerLoad("SC-1", "MSCU1234565", "SCN-1", "MB1215HS", "DUAL", 20, ("D1",),
                         (shirts, cigarettes), (shirts,), "in_wall", cigarettes)
    adapted = as_xray_load(load)
    assert adapted.scanner_model == "MB1215HS" and adapted.concealment == "wall"
    assert [g.hs_code for g in adapted.true_goods] == ["610910"] and adapted.concealed_kg == 120.0
    rendered = render(load)
    assert rendered.image.meta.scanner_model == "Borealis-DE" and len(rendered.boxes) == 1
