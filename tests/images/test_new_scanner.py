"""A scanner seen for the first time: the second renderer's own export, thresholds from clean traffic, physics calibration."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from zeikan.images.physics import check
from zeikan.images.scanner_adaptation import ScannerAdapter, calibrate_physics, catches_more, mean_logit, mirrored, threshold_from_clean
from zeikan.images.store import open_store
from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer
from zeikan.sim.xray import render
from zeikan.sim.xray_dataset import declared_items
from zeikan.images.profile import load_profile
from zeikan.sim.xray_kestrel import (PROFILE, SCANNER, canonical_of, package_visibility, read_noise_floor, render_kestrel,
                                     write_kestrel_export)
from zeikan.sim.xray_loads import Goods, XrayLoad, random_loads
from zeikan.cli.main import app


@pytest.fixture(scope="module")
def clean_kestrel():
    loads = random_loads(16, 77, (SCANNER,), concealment_rate=0.0, misdeclared_rate=0.0)
    return loads, [canonical_of(render_kestrel(load)) for load in loads]


def test_the_second_renderer_writes_its_own_vendor_export_read_only_through_its_profile(tmp_path):
    loads = random_loads(3, 5, (SCANNER,), concealment_rate=0.5)
    manifest = write_kestrel_export(loads, tmp_path / "export")
    assert sorted(p.name for p in (tmp_path / "export").iterdir())[:2] == [f"{loads[0].scan_id}_HI.png", f"{loads[0].scan_id}_LO.png"]
    records = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert all(r["cargo"]["grossKg"] > sum(g.gross_weight_kg for g in lo.declared_goods) for r, lo in zip(records, loads)), "tare included"
    store = str(tmp_path / "store")
    result = CliRunner().invoke(app, ["images", "ingest", "--profile", "kestrel-dx9", str(manifest), "--store", store])
    assert result.exit_code == 0, result.output
    for line, load in zip(result.stdout.strip().splitlines(), loads):
        meta = open_store(store).get(line.split("\t")[0]).meta
        assert meta.scanner_model == SCANNER and meta.energies_kv == (4000, 6000) and meta.native_pitch_mm == (6.0, 10.0)
        assert meta.declared_net_kg == pytest.approx(sum(g.gross_weight_kg for g in load.declared_goods), abs=0.2)


def test_its_physics_differ_from_the_training_renderer():
    load = random_loads(1, 9, (SCANNER,), concealment_rate=0.0)[0]
    kestrel = canonical_of(render_kestrel(load)).attenuation()
    trained_on = render(load.__class__(**{**load.__dict__, "scanner_model": "Aster-6MV"})).image.attenuation()
    ratio = lambda a: float(a[0].sum() / a[1].sum())  # noqa: E731 - dual-energy ratio of the whole image
    assert abs(ratio(kestrel) - ratio(trained_on)) > 0.05


def test_thresholds_come_from_the_scanners_own_clean_traffic(clean_kestrel):
    loads, images = clean_kestrel
    from zeikan.images.dataset import model_input
    from zeikan.images.manifest import manifest_inputs

    scorer = OnnxImageScorer(ImageScorerSettings())
    scores, _ = scorer.score_inputs(np.stack([model_input(img) for img in images]), manifest_inputs([declared_items(lo) for lo in loads]))
    scorer.close()
    cut = threshold_from_clean(scores, 0.1)
    assert float(np.mean(scores > cut)) <= 0.1
    rng = np.random.default_rng(0)
    clean, pos = rng.normal(0, 1, (200, 3)), rng.normal(2, 1, (50, 3))
    adapter = ScannerAdapter.fit(np.vstack([clean[:50], pos]), np.r_[np.zeros(50), np.ones(50)], clean, 0.01)
    assert float(np.mean(adapter.score(clean) > adapter.threshold)) <= 0.01


def test_the_clean_traffic_cut_holds_its_false_alarm_rate_on_the_scanner_s_next_clean_scans():
    """The rate is a promise about scans the cut was not set on: over many draws of 200 clean scores and the next
    2,000, at most 1 % of the next ones pass (the in-sample rule let 1.5 % through)."""
    rng = np.random.default_rng(7)
    passed = [float(np.mean(rng.random(2000) > threshold_from_clean(rng.random(200), 0.01))) for _ in range(2000)]
    assert np.mean(passed) <= 0.0105
    assert threshold_from_clean(np.arange(100.0), 0.01) == 99.0, "the fewest clean scans: none may pass"


def test_per_scanner_physics_calibration_stops_flagging_clean_scans(clean_kestrel):
    loads, images = clean_kestrel
    scorer = OnnxImageScorer(ImageScorerSettings())
    base = scorer.calibration
    scorer.close()
    declared = [declared_items(lo) for lo in loads]
    tuned = calibrate_physics(base, images, declared)
    flagged = lambda cal: float(np.mean([check(i, d, cal).score > 0 for i, d in zip(images, declared)]))  # noqa: E731
    assert flagged(tuned) < flagged(base) and flagged(tuned) <= 0.1
    assert tuned.mass_tolerance >= base.mass_tolerance and tuned.empty_att_cm2 != base.empty_att_cm2


def test_the_adapter_rescores_only_where_the_labels_show_it_catches_more():
    rng = np.random.default_rng(1)

    def scans(n: int, concealed: bool, informative: int) -> np.ndarray:
        x = rng.normal(0, 1, (n, 4))
        if concealed:
            x[:, informative] += 3.0
        return x

    for informative in (0, 2):  # the CNN score separates / only another feature does
        clean = scans(200, False, informative)
        labelled = np.vstack([scans(50, False, informative), scans(50, True, informative)])
        y = np.r_[np.zeros(50), np.ones(50)]
        adapter = ScannerAdapter.fit(labelled, y, clean, 0.01)
        assert adapter.rescored == (informative != 0)
        test_clean, test_pos = scans(2000, False, informative), scans(500, True, informative)
        assert float(np.mean(adapter.score(test_clean) > adapter.threshold)) <= 0.02
        # a 3-sigma shift at a 1 % cut catches 75 %; the cut from 200 clean scans sits a little higher
        assert float(np.mean(adapter.score(test_pos) > adapter.threshold)) > (0.6 if informative == 0 else 0.5)


def test_a_package_in_photon_starved_goods_is_far_less_visible_than_one_in_light_goods():
    def hidden_in(goods: Goods) -> XrayLoad:
        return XrayLoad("V1", "MSCU0000015", SCANNER, 20, (goods,), concealment="among_goods", seed=3,
                        concealed_material="organic", concealed_kg=30.0)

    light = package_visibility(hidden_in(Goods("610910", "shirts", 1, 3000.0, "organic")))
    dense = package_visibility(hidden_in(Goods("780110", "lead", 1, 20000.0, "heavy")))
    floor = read_noise_floor(load_profile(PROFILE))
    assert light.load_attenuation < floor < dense.load_attenuation, "lead goods pass less beam than the read noise"
    assert dense.d_prime < light.d_prime / 10, "the same package behind them is far harder to see"
    with pytest.raises(ValueError, match="no concealment"):
        package_visibility(XrayLoad("V2", "MSCU0000015", SCANNER, 20, (Goods("610910", "shirts", 1, 3000.0, "organic"),)))


def test_mirroring_keeps_each_input_in_place_and_the_mirror_is_kept_only_where_it_catches_more():
    x = np.zeros((2, 1, 2, 6), np.float32)
    x[0, 0, :, :4] = [1, 2, 3, 4]
    x[1, 0, 0, :6] = [5, 0, 0, 0, 0, 6]
    out = mirrored(x)
    np.testing.assert_array_equal(out[0, 0, 0], [4, 3, 2, 1, 0, 0])
    np.testing.assert_array_equal(out[1, 0, 0], [6, 0, 0, 0, 0, 5])
    np.testing.assert_allclose(mean_logit(np.array([0.5, 0.9]), np.array([0.5, 0.1])), [0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(mean_logit(np.array([0.8]), np.array([0.8])), [0.8], atol=1e-6)
    clean = np.linspace(0.0, 0.5, 100)  # the cut at 1 %: 0.4949...
    concealed = np.array([True, True, False])
    assert catches_more(clean, np.array([0.4, 0.6, 0.1]), clean, np.array([0.6, 0.6, 0.1]), concealed, 0.01)
    assert not catches_more(clean, np.array([0.6, 0.6, 0.1]), clean, np.array([0.6, 0.6, 0.9]), concealed, 0.01), "ties keep a"
    assert not catches_more(clean, np.array([0.4, 0.6, 0.1]), clean + 0.5, np.array([0.6, 0.6, 0.1]), concealed, 0.01)
