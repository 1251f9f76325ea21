"""`zeikan images ingest|ls|show` and `annotate import` through the CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from zeikan.images.errors import ImageError
from zeikan.cli.main import app


def _png(path, seed=0):
    grey = np.random.default_rng(seed).integers(0, 256, size=(40, 80)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(grey, mode="L").save(buf, format="PNG")
    path.write_bytes(buf.getvalue())
    return path


def test_ingest_ls_show_and_import(tmp_path):
    store = str(tmp_path / "store")
    runner = CliRunner()
    png = _png(tmp_path / "SCAN-1.png")
    result = runner.invoke(app, ["images", "ingest", str(png), "--store", store, "--scanner-model", "Vendor-X", "--pitch-mm", "5"])
    assert result.exit_code == 0, result.output
    sha, uri = result.stdout.strip().split("\t")
    listing = runner.invoke(app, ["images", "ls", "--store", store])
    assert listing.stdout.strip().split("\t") == [sha, "Vendor-X", "SCAN-1", "-"]
    shown = json.loads(runner.invoke(app, ["images", "show", uri, "--png", str(tmp_path / "p.png")]).stdout)
    assert shown["meta"]["scan_id"] == "SCAN-1" and shown["shape"] == [1, 20, 40] and (tmp_path / "p.png").exists()
    answers = {"images": [{"id": 1, "sha256": sha}], "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}]}
    (tmp_path / "answers.json").write_text(json.dumps(answers))
    assert runner.invoke(app, ["images", "annotate", "import", str(tmp_path / "answers.json"), "--annotator", "o1", "--store", store]).exit_code == 0
    assert runner.invoke(app, ["images", "ls", "--store", store]).stdout.strip().endswith("black")


def test_corrupt_input_is_refused_and_nothing_is_stored(tmp_path):
    store = str(tmp_path / "store")
    good, bad = _png(tmp_path / "good.png"), tmp_path / "bad.png"
    bad.write_bytes(good.read_bytes()[:100])
    result = CliRunner().invoke(app, ["images", "ingest", str(good), str(bad), "--store", store])
    assert isinstance(result.exception, ImageError) and "1 of 2" in str(result.exception) and "nothing stored" in str(result.exception)
    assert "refused" in result.stderr and result.stdout.strip() == ""
    assert CliRunner().invoke(app, ["images", "ls", "--store", store]).stdout.strip() == ""
    proc = subprocess.run([sys.executable, "-m", "zeikan.cli.main", "images", "ingest", str(bad), "--store", store],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: 1 of 1 scans refused")
