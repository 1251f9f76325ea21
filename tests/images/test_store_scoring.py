"""`zeikan images score STORE|DIR` and `zeikan images evaluate --labels FILE` on any store; bad paths are one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from zeikan.images.store import open_store
from zeikan.sim.xray import render
from zeikan.sim.xray_loads import Goods, XrayLoad
from zeikan.cli.main import app

GOODS = (Goods("610910", "shirts", 1, 5000.0, "organic"),)


@pytest.fixture(scope="module")
def labelled_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("scored")
    store = open_store(str(root / "store"))
    labels = []
    for i in range(12):
        scanner = ("Aster-6MV", "Cobalt-HX")[i % 2]
        concealment = "wall" if i % 4 in (0, 1) else None
        load = XrayLoad(f"S{i:02d}", f"MSCU{i:06d}5", scanner, 40, GOODS, concealment=concealment, seed=300 + i)
        store.put(render(load).image)
        labels.append({"scan_id": load.scan_id, "label": "black" if concealment else "white"})
    (root / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in labels))
    return root


def test_score_writes_one_line_per_stored_image(labelled_store):
    result = CliRunner().invoke(app, ["images", "score", str(labelled_store / "store")])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 12 and {r["scanner_model"] for r in rows} == {"Aster-6MV", "Cobalt-HX"}
    assert all(0.0 <= r["score"] <= 1.0 and len(r["sha256"]) == 64 for r in rows)


def test_evaluate_reports_auc_and_detection_per_scanner_as_json_and_png(labelled_store, tmp_path):
    chart = tmp_path / "roc.png"
    result = CliRunner().invoke(app, ["images", "evaluate", str(labelled_store / "store"), "--labels",
                                      str(labelled_store / "labels.jsonl"), "--chart", str(chart), "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert set(report["per_scanner"]) == {"Aster-6MV", "Cobalt-HX"} and report["unlabelled"] == 0
    for m in report["per_scanner"].values():
        assert m["n"] == 6 and m["positives"] == 3 and 0.0 <= m["roc_auc"] <= 1.0 and m["detection_rate"] is not None
    assert report["overall"]["roc_auc"] > 0.8, "the committed model separates wall concealments on seen scanners"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["images", "score", "/no/such/store"], "is not a folder or a store URL"),
        (["images", "score", "."], "is not an image store (no objects/ folder)"),
        (["images", "evaluate", "--data", "/no/such.npz"], "must be an existing rendered set"),
        (["images", "evaluate", "--data", "."], "must be an existing rendered set"),
        (["images", "evaluate", "--data", "labels.jsonl"], "must be an existing rendered set"),
        (["images", "evaluate", "store", "--labels", "/no/labels.jsonl"], "does not exist or is not a file"),
        (["images", "evaluate", "store", "--labels", "store"], "does not exist or is not a file"),
        (["images", "evaluate", "--scanner", "Vendor-Z"], "unknown rendered scanner model 'Vendor-Z'"),
    ],
)
def test_bad_paths_are_one_line_errors(labelled_store, args, message):
    proc = subprocess.run([sys.executable, "-m", "zeikan.cli.main", *args], capture_output=True, text=True, timeout=120,
                          cwd=labelled_store)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()
    assert len(last) == 1 and message in last[0]


def test_evaluate_on_a_rendered_set_reports_the_figures_at_the_engine_threshold(tmp_path):
    from zeikan.images.dataset import RenderedSet
    from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer
    from zeikan.sim.xray_dataset import render_set
    from zeikan.streams.engine.config import EngineConfig

    render_set(16, 3, ("Cobalt-HX",), concealment_rate=0.5).save(str(tmp_path / "set.npz"))
    result = CliRunner().invoke(app, ["images", "evaluate", "--data", str(tmp_path / "set.npz"), "--out", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    at = json.loads((tmp_path / "r.json").read_text())["at_exam_threshold"]
    data = RenderedSet.load(str(tmp_path / "set.npz"))
    scorer = OnnxImageScorer(ImageScorerSettings())
    scores = scorer.score_inputs(data.x, data.manifests)[0]
    scorer.close()
    y, cut = data.y.astype(bool), EngineConfig().post_scan_exam_threshold
    assert at == {"threshold": cut, "detection_rate": float((scores[y] > cut).mean()), "false_alarm_rate": float((scores[~y] > cut).mean())}
