"""The two-stage image model: stage-2 targets from concealment boxes, the operating offset, the shipped stage 1, one ONNX graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from zeikan.images import model as image_model  # noqa: E402
from zeikan.images.dataset import HEATMAP_SHAPE, MODEL_SHAPE, NO_BOX, RenderedSet, model_input  # noqa: E402
from zeikan.images.scorer import DEFAULT_MODEL_DIR, ImageScorerSettings, OnnxImageScorer  # noqa: E402
from zeikan.sim.xray import render  # noqa: E402
from zeikan.sim.xray_dataset import render_set  # noqa: E402
from zeikan.sim.xray_loads import Goods, XrayLoad  # noqa: E402


def test_cells_holding_the_box_are_positive_and_a_thin_floor_band_counts():
    band = np.array([20.0, 42.5, 40.0, 2.0])  # 1 m x 50 mm in the floor, 25 mm pixels
    targets = image_model.cell_targets(band, 0, 0)
    assert targets.shape == (8, 16)
    assert set(np.argwhere(targets == 1)[:, 0].tolist()) == {5} and (targets[5, 3:7] == 1).all()
    assert (targets[:4] == 0).all() and (targets[6:] == 0).all()
    assert (image_model.cell_targets(np.array(NO_BOX), 0, 0) == 0).all()
    assert (image_model.cell_targets(band, 64, 0) == 0).all(), "a patch below the box holds none of it"


def test_rendered_sets_carry_the_concealment_box_in_model_pixels(tmp_path):
    data = render_set(6, 3, ("Aster-6MV",), concealment_rate=0.5, workers=1)
    assert data.x.shape[1:] == MODEL_SHAPE and data.boxes.shape == (6, 4)
    assert ((data.boxes[:, 2] > 0) == (data.y == 1)).all()
    for x, box, y in zip(data.x, data.boxes, data.y):
        if y:
            c, r, w, h = (int(v) for v in box)
            assert x[1, r : r + max(h, 1), c : c + max(w, 1)].mean() > 0.2, "the box lies on the image's concealment"
    data.save(str(tmp_path / "set.npz"))
    assert np.array_equal(RenderedSet.load(str(tmp_path / "set.npz")).boxes, data.boxes)
    np.savez(tmp_path / "old.npz", x=np.zeros((1, 2, 64, 256), np.float16), y=np.zeros(1))
    with pytest.raises(ValueError, match="render it again"):
        RenderedSet.load(str(tmp_path / "old.npz"))


def test_the_offset_keeps_stage_ones_exam_rate_on_clean_scans():
    rng = np.random.default_rng(0)
    coarse, fine = rng.normal(-4, 1.5, 2000), rng.normal(1, 1, 2000)
    offset = image_model.operating_offset(coarse, fine)
    cut = np.quantile(coarse, 0.99)
    assert np.mean(coarse + fine - offset > cut) == pytest.approx(np.mean(coarse > cut), abs=1e-3)


def test_stage_one_from_a_single_stage_artefact_scores_as_it_did(tmp_path):
    import onnxruntime as ort

    torch.manual_seed(1)
    net = image_model.TinyCam().eval()

    class Single(torch.nn.Module):  # the single-stage graph of earlier versions: 50 mm input, batch norms folded on export
        def __init__(self):
            super().__init__()
            self.features, self.cam = net.features, net.cam

        def forward(self, x):
            return torch.sigmoid(self.cam(self.features(x * image_model.INPUT_SCALE)).flatten(1).amax(dim=1))

    path = tmp_path / "single.onnx"
    torch.onnx.export(Single(), (torch.zeros(1, 2, 64, 256),), str(path), dynamo=False, opset_version=17,
                      input_names=["image"], dynamic_axes={"image": {0: "batch"}})
    x = np.random.default_rng(0).uniform(0, 8, (3, *MODEL_SHAPE)).astype(np.float32)
    coarse = x.reshape(3, 2, 64, 2, 256, 2).mean(axis=(3, 5))
    before = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"image": coarse})[0]
    with torch.no_grad():
        cam = image_model.stage1_from_onnx(path)(torch.from_numpy(x))[1]
    assert np.allclose(torch.sigmoid(cam.flatten(1).amax(dim=1)).numpy(), before.reshape(-1), atol=1e-5)
    with pytest.raises(ValueError, match="single-stage model"):
        image_model.stage1_from_onnx(DEFAULT_MODEL_DIR / "model.onnx")


def test_both_stages_export_to_one_graph_the_scorer_serves(tmp_path):
    torch.manual_seed(0)
    net = image_model.TwoStageCam(image_model.TinyCam().eval(), image_model.FineCam().eval(), offset=1.5)
    image_model.export(net, tmp_path, {"physics": json.loads((DEFAULT_MODEL_DIR / "metadata.json").read_text())["physics"]})
    load = XrayLoad("S1", "MSCU0000015", "Aster-6MV", 20, (Goods("610910", "shirts", 1, 5000.0, "organic"),), seed=5)
    x = model_input(render(load).image)[None]
    scorer = OnnxImageScorer(ImageScorerSettings(model_dir=str(tmp_path)))
    scores, heatmaps = scorer.score_inputs(x)
    scorer.close()
    coarse, fine = image_model.stage_logits(net, x)
    assert heatmaps.shape == (1, *HEATMAP_SHAPE)
    assert scores[0] == pytest.approx(1 / (1 + np.exp(-(coarse[0] + fine[0] - 1.5))), abs=1e-5)
    assert json.loads(Path(tmp_path, "metadata.json").read_text())["stage_offset"] == 1.5
