"""DICOS (pydicom) export and import: the canonical image, its metadata and labels come back bit for bit."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from zeikan.images.dicos import DICOS_DX_FOR_PROCESSING, from_dicos, to_dicos
from zeikan.images.errors import CorruptImageError
from zeikan.images.labels import Box, ImageLabel
from zeikan.images.store import open_store
from zeikan.sim.xray import render
from zeikan.sim.xray_loads import Goods, XrayLoad
from zeikan.cli.main import app

pydicom = pytest.importorskip("pydicom")


def test_dicos_round_trip_is_exact_and_carries_uff_metadata(tmp_path):
    image = render(XrayLoad("D-1", "MSCU0000015", "Borealis-DE", 20, (Goods("610910", "shirts", 1, 3000.0, "organic"),),
                            concealment="wall", seed=9)).image
    store = open_store(str(tmp_path / "a"))
    stored = store.put(image)
    label = ImageLabel(stored.sha256, "black", "officer", "o1", 5, "drugs", (Box(1.0, 2.0, 3.0, 4.0),))
    store.put_label(label)
    out = tmp_path / "scan.dcm"
    assert CliRunner().invoke(app, ["images", "export-dicos", stored.sha256, "--out", str(out), "--store", store.url]).exit_code == 0
    ds = pydicom.dcmread(out)
    assert ds.SOPClassUID == DICOS_DX_FOR_PROCESSING and ds.Modality == "DX" and int(ds.NumberOfFrames) == 2
    assert ds.ManufacturerModelName == "Borealis-DE" and list(ds.FrameLabel) == ["4000 kV", "6000 kV"]
    assert float(ds.PixelSpacing[0]) == image.meta.pitch_mm and float(ds.RescaleSlope) == 1 / image.meta.attenuation_scale
    back, labels = from_dicos(out.read_bytes())
    assert (back.pixels == image.pixels).all() and back.meta == image.meta and labels == [label]
    assert to_dicos(image, [label]) == out.read_bytes(), "deterministic bytes"
    target = str(tmp_path / "b")
    result = CliRunner().invoke(app, ["images", "import-dicos", str(out), "--store", target])
    assert result.exit_code == 0, result.output
    assert result.stdout.split("\t")[0] == stored.sha256 and open_store(target).labels(stored.sha256) == [label]


def test_a_foreign_or_damaged_file_is_refused():
    with pytest.raises(CorruptImageError, match="not a zeikan DICOS object"):
        from_dicos(b"DICM" * 40)
