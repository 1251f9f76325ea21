"""Issue 12 must-show: each shipped vendor profile onboards its export by the profile alone, and the round trip is exact."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from zeikan.images.canonical import CANONICAL_PITCH_MM, CanonicalImage
from zeikan.images.errors import ProfileError
from zeikan.images.profile import load_profile, parse_profile, shipped_profiles
from zeikan.images.resample import resample
from zeikan.images.store import open_store
from zeikan.images.tare import tare_kg
from zeikan.images.vendor_export import VendorScan, write_export
from zeikan.images.vendor_files import write_png
from zeikan.sim.xray import _calibration, render
from zeikan.sim.xray_loads import Goods, XrayLoad
from zeikan.sim.xray_physics import SCANNER_MODELS
from zeikan.cli.main import app

OWN = [n for n in shipped_profiles() if n.startswith("sim-")]
VENDORS = [n for n in shipped_profiles() if not n.startswith("sim-")]
GOODS = (Goods("940360", "wooden furniture", 300, 6000.0, "organic"),)


def _ingest(profile: str, target, store: str) -> list[str]:
    result = CliRunner().invoke(app, ["images", "ingest", "--profile", profile, str(target), "--store", store])
    assert result.exit_code == 0, result.output
    return [line.split("\t")[0] for line in result.stdout.strip().splitlines()]


def test_the_shipped_profiles_cover_every_option():
    profiles = [load_profile(n) for n in shipped_profiles()]
    assert {p.files.format for p in profiles} >= {"png", "tiff", "raw"}
    assert {p.files.pairing for p in profiles} == {"files", "planes"}
    assert {c.lut != () for p in profiles for c in p.calibration} == {True, False}
    assert {c.curve != () for p in profiles for c in p.calibration} == {True, False}
    assert {p.energy_unit for p in profiles} >= {"kV", "MeV", "MV"}
    assert {p.doors for p in profiles} == {"left", "right"} and {p.top for p in profiles} == {"up", "down"}
    assert {p.manifest.format if p.manifest else None for p in profiles} == {"jsonl", "csv", None}
    assert {p.manifest.declared_weight_includes_tare for p in profiles if p.manifest} == {True, False}
    assert any(p.pitch_mm[0] != p.pitch_mm[1] for p in profiles) and any(p.files.pixels.bit_depth == 12 for p in profiles)


@pytest.mark.parametrize("name", OWN)
def test_own_scanner_profiles_agree_with_the_renderer_and_round_trip_exactly(name, tmp_path):
    profile = load_profile(name)
    model = SCANNER_MODELS[profile.scanner_model]
    cal = _calibration(model, 2)
    assert [(c.dark, c.open_beam, c.curve) for c in profile.calibration] == [(cal.dark[0], cal.open_beam[0], cal.curve)] * 2
    assert profile.pitch_mm == (model.pitch_mm[1], model.pitch_mm[0]) and profile.energies_kv() == model.energies_kv
    load = XrayLoad("SCN-OWN-1", "TGHU0009018", model.name, 40, GOODS, concealment="wall", seed=5)
    rendered = render(load)
    counts = np.frombuffer(rendered.raw, dtype="<u2").reshape(2, rendered.height, rendered.width)
    write_export(profile, tmp_path / "export", [VendorScan(load.scan_id, counts, {})])
    store = str(tmp_path / "store")
    (sha,) = _ingest(name, tmp_path / "export", store)
    image = open_store(store).get(sha)
    assert np.array_equal(image.pixels, rendered.image.pixels), "profile ingest == the renderer's own ingest, bit for bit"
    assert image.meta.scan_id == load.scan_id and image.meta.system == name


def _vendor_counts(profile, truth: np.ndarray) -> np.ndarray:
    """What the vendor's detector would write for canonical-orientation attenuation ``truth`` at its own pitch."""
    px, py = profile.pitch_mm
    h = int(round(truth.shape[1] * CANONICAL_PITCH_MM / py))
    w = int(round(truth.shape[2] * CANONICAL_PITCH_MM / px))
    rows = np.minimum((np.arange(h) * py / CANONICAL_PITCH_MM).astype(int), truth.shape[1] - 1)
    cols = np.minimum((np.arange(w) * px / CANONICAL_PITCH_MM).astype(int), truth.shape[2] - 1)
    native = truth[:, rows][:, :, cols]
    if profile.doors == "left":
        native = native[:, :, ::-1]
    if profile.top == "down":
        native = native[:, ::-1, :]
    full = profile.files.pixels.full_scale
    channels = [cal.to_counts(native[-len(profile.calibration) + i], full) for i, cal in enumerate(profile.calibration)]
    return np.stack(channels)


@pytest.mark.parametrize("name", VENDORS)
def test_made_up_vendor_exports_onboard_by_their_profile_alone(name, tmp_path):
    profile = load_profile(name)
    loads = [XrayLoad(f"V-{i}", f"TGHU00090{i}8", "Aster-6MV", 40 if i else 20, GOODS, concealment="floor" if i else None, seed=20 + i)
             for i in range(2)]
    truths = [render(load).image.attenuation().astype(np.float64) for load in loads]
    facts = [{"container_id": load.container_id, "iso_type": "45G1" if i else "22G1", "declared_goods": "wooden furniture",
              "declared_weight_kg": 6000.0 + (tare_kg("45G1" if i else "22G1") or 0.0) * (profile.manifest.declared_weight_includes_tare if profile.manifest else 0)}
             for i, load in enumerate(loads)]
    scans = [VendorScan(load.scan_id, _vendor_counts(profile, t), f) for load, t, f in zip(loads, truths, facts)]
    target = write_export(profile, tmp_path / "export", scans)
    store = str(tmp_path / "store")
    shas = _ingest(name, target, store)
    assert len(shas) == 2 and _ingest(name, target, str(tmp_path / "again")) == shas, "deterministic: the same export, the same bytes"
    for sha, load, truth, scan in zip(shas, loads, truths, scans):
        image = open_store(store).get(sha)
        meta = image.meta
        assert (meta.scan_id, meta.scanner_model, meta.system) == (load.scan_id, profile.scanner_model, name)
        assert meta.energies_kv == profile.energies_kv()[-image.pixels.shape[0]:] and meta.native_pitch_mm == profile.pitch_mm
        if profile.manifest:
            assert meta.container_id == load.container_id and meta.declared_goods == "wooden furniture"
            assert meta.declared_net_kg == pytest.approx(6000.0) and meta.tare_kg == tare_kg(meta.iso_type)
        # exact: the stored image is the calibrated, re-oriented, resampled vendor counts, bit for bit
        att = np.stack([cal.to_attenuation(c) for cal, c in zip(profile.calibration, scan.counts)])
        att = att[:, :, ::-1] if profile.doors == "left" else att
        att = att[:, ::-1, :] if profile.top == "down" else att
        expected = CanonicalImage.from_attenuation(resample(att, profile.pitch_mm[::-1], CANONICAL_PITCH_MM), meta)
        assert np.array_equal(image.pixels, expected.pixels)
        # and physically right: the vendor's counts calibrate back to the true attenuation where photons get through
        seen = image.attenuation()
        true = truth[-seen.shape[0]:, : seen.shape[1], : seen.shape[2]]
        visible = true < 5.0
        assert np.median(np.abs(seen[:, : true.shape[1], : true.shape[2]][visible] - true[visible])) < 0.05


def test_one_unfit_scan_in_an_export_means_nothing_is_stored(tmp_path):
    profile = load_profile("kestrel-dx9")
    truth = render(XrayLoad("K-1", "TGHU0009018", "Aster-6MV", 20, GOODS, seed=3)).image.attenuation().astype(np.float64)
    counts = _vendor_counts(profile, truth)
    target = write_export(profile, tmp_path / "export", [VendorScan("K-1", counts, {}), VendorScan("K-2", counts, {})])
    (tmp_path / "export" / "K-2_HI.png").write_bytes((tmp_path / "export" / "K-1_HI.png").read_bytes())
    (tmp_path / "export" / "K-2_LO.png").write_bytes(write_png((counts[0] // 256).astype(np.uint8)))
    store = str(tmp_path / "store")
    result = CliRunner().invoke(app, ["images", "ingest", "--profile", "kestrel-dx9", str(target), "--store", store])
    assert result.exit_code != 0 and "file is 8-bit, the profile expects 16-bit" in result.stderr
    assert "1 of 2 scans refused" in str(result.exception) and list(open_store(store).ls()) == []


def test_a_bad_profile_is_one_clear_error(tmp_path):
    with pytest.raises(ProfileError, match="files.format 'bmp'"):
        parse_profile({"name": "x", "scanner_model": "X", "files": {"format": "bmp", "pattern": "{scan_id}.bmp", "channels": ["HI"], "bit_depth": 8},
                       "energies": {"values": [6], "unit": "MV"}, "pitch_mm": {"x": 5, "y": 5}, "calibration": {"HI": {}}}, "x.yaml")
    result = CliRunner().invoke(app, ["images", "ingest", "--profile", "no-such-vendor", str(tmp_path)])
    assert result.exit_code != 0 and "no shipped profile of that name" in str(result.exception)


def test_a_missing_or_empty_export_is_one_line_error(tmp_path):
    for target, message in ((tmp_path / "nowhere", "no such folder or manifest"), (tmp_path, "no scans found")):
        result = CliRunner().invoke(app, ["images", "ingest", "--profile", "vantage-r12", str(target), "--store", str(tmp_path / "s")])
        assert result.exit_code != 0 and message in str(result.exception) and "\n" not in str(result.exception)
