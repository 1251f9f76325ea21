"""Never store a wrong image: 16-bit files keep their counts, unfit files are refused with one line, nothing half written."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from zeikan.images.errors import RefusedImageError
from zeikan.images.file_ingest import FileOptions, convert_file
from zeikan.images.fitness import PixelSpec, refuse_unfit
from zeikan.images.ingest import Calibration
from zeikan.images.store import open_store
from zeikan.images.vendor_files import Counts, read_png, write_png
from zeikan.cli.main import app

CAL = {"calibration_id": "hx-1", "scanner_model": "Vendor-HX", "energies_kv": [6000], "pitch_mm": [10.0, 10.0],
       "dark": [1000.0], "open_beam": [61000.0]}


def _counts16(seed: int = 0) -> np.ndarray:
    """Detector counts of a plausible scan: open beam around, a dense load in the middle (all > 255)."""
    rng = np.random.default_rng(seed)
    counts = np.full((60, 200), 60000.0) + rng.normal(0, 50, (60, 200))
    counts[10:50, 20:180] = rng.uniform(3000, 30000, (40, 160))
    return np.clip(np.rint(counts), 0, 65535).astype(np.uint16)


def test_a_16bit_png_keeps_its_counts_and_is_never_stored_blank(tmp_path):
    counts = _counts16()
    png = tmp_path / "X_hi.png"
    png.write_bytes(write_png(counts))
    read = read_png(png.read_bytes(), str(png))
    assert read.bit_depth == 16 and np.array_equal(read.pixels[0], counts)
    cal = tmp_path / "cal.json"
    cal.write_text(json.dumps(CAL))
    store = str(tmp_path / "store")
    result = CliRunner().invoke(app, ["images", "ingest", str(png), "--calibration", str(cal), "--store", store])
    assert result.exit_code == 0, result.output
    image = open_store(store).get(result.stdout.split("\t")[0])
    att = image.attenuation()[0]
    expected = -np.log((counts.astype(np.float64) - 1000.0) / 60000.0)
    assert att.std() > 0.5, "a blank (constant) image was stored"
    assert np.allclose(att, np.clip(expected, 0, None), atol=1 / 4096 + 1e-6)
    assert image.meta.source_format == "png16" and image.meta.scanner_model == "Vendor-HX"


def test_a_16bit_png_without_calibration_is_refused_not_squeezed_to_8_bits(tmp_path):
    png = tmp_path / "X_hi.png"
    png.write_bytes(write_png(_counts16()))
    store = str(tmp_path / "store")
    result = CliRunner().invoke(app, ["images", "ingest", str(png), "--store", store])
    assert result.exit_code != 0 and "16-bit detector counts need --calibration" in result.stderr
    assert list(open_store(store).ls()) == []


def test_a_calibration_for_an_8bit_file_is_refused_not_ignored(tmp_path):
    grey = np.random.default_rng(1).integers(1, 255, (40, 80)).astype(np.uint8)
    png = tmp_path / "eight.png"
    png.write_bytes(write_png(grey))
    cal = Calibration.from_dict(CAL)
    with pytest.raises(RefusedImageError, match="--calibration applies to 16-bit"):
        convert_file(png, FileOptions(calibration=cal))
    assert convert_file(png, FileOptions()).meta.source_format == "8bit"


@pytest.mark.parametrize(
    ("pixels", "spec", "reason"),
    [
        (np.full((1, 40, 80), 30000, np.uint16), PixelSpec(16), "constant"),
        (np.random.default_rng(0).integers(1, 255, (1, 40, 80)).astype(np.uint8), PixelSpec(16), "8-bit, the profile expects 16-bit"),
        (np.random.default_rng(0).integers(1, 4000, (2, 40, 80)).astype(np.uint16), PixelSpec(16, 1), r"2 channel\(s\), the profile expects 1"),
        (np.random.default_rng(0).integers(1, 4000, (1, 8, 80)).astype(np.uint16), PixelSpec(16), "size 8x80 is outside"),
        (np.random.default_rng(0).integers(1, 5000, (1, 40, 80)).astype(np.uint16), PixelSpec(12, max_value=4095), "exceeds the profile's full scale 4095"),
        (np.where(np.arange(3200).reshape(1, 40, 80) % 3 == 0, 0, 9000).astype(np.uint16), PixelSpec(16), "clipped"),
        (np.where(np.arange(3200).reshape(1, 40, 80) % 4 == 0, 9000, 65535).astype(np.uint16), PixelSpec(16), "mostly saturated"),
    ],
)
def test_unfit_counts_are_refused_with_a_one_line_reason(pixels, spec, reason):
    bits = 8 if pixels.dtype == np.uint8 else (12 if spec.bit_depth == 12 else 16)
    with pytest.raises(RefusedImageError, match=reason) as info:
        refuse_unfit(Counts(pixels, bits, "scan.png"), spec)
    assert "\n" not in str(info.value)


def test_one_refused_file_means_nothing_is_stored_and_a_non_zero_exit(tmp_path):
    good, blank = tmp_path / "good.png", tmp_path / "blank.png"
    good.write_bytes(write_png(np.random.default_rng(2).integers(1, 255, (40, 80)).astype(np.uint8)))
    blank.write_bytes(write_png(np.full((40, 80), 128, np.uint8)))
    store = str(tmp_path / "store")
    proc = subprocess.run([sys.executable, "-m", "zeikan.cli.main", "images", "ingest", str(good), str(blank), "--store", store],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "channel 0 is constant" in proc.stderr and "1 of 2 scans refused" in proc.stderr
    assert proc.stdout == "" and list(open_store(store).ls()) == []
