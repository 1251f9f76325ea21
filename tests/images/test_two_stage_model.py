"""The two-stage image model: stage-2 targets from concealment boxes, the operating offset, the shipped stages, the manifest head, one ONNX graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from zeikan.images import model as image_model  # noqa: E402
from zeikan.images.dataset import HEATMAP_SHAPE, MODEL_SHAPE, NO_BOX, RenderedSet, model_input  # noqa: E402
from zeikan.images.errors import ModelArtifactError  # noqa: E402
from zeikan.images.manifest import MANIFEST_SIZE, NO_MANIFEST, manifest_inputs, manifest_vector  # noqa: E402
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
    assert data.manifests.shape == (6, MANIFEST_SIZE) and (data.manifests[:, 0] == 1).all(), "every rendered load is declared"
    data.save(str(tmp_path / "set.npz"))
    loaded = RenderedSet.load(str(tmp_path / "set.npz"))
    assert np.array_equal(loaded.boxes, data.boxes) and np.array_equal(loaded.manifests, data.manifests)
    np.savez(tmp_path / "old.npz", x=np.zeros((1, 2, 64, 256), np.float16), y=np.zeros(1))
    with pytest.raises(ValueError, match="render it again"):
        RenderedSet.load(str(tmp_path / "old.npz"))
    np.savez(tmp_path / "undeclared.npz", x=np.zeros((1, *MODEL_SHAPE), np.float16), y=np.zeros(1), boxes=np.zeros((1, 4)))
    with pytest.raises(ValueError, match="declared goods"):
        RenderedSet.load(str(tmp_path / "undeclared.npz"))


def test_the_offset_puts_the_engine_threshold_under_the_target_share_of_clean_scans():
    combined = np.random.default_rng(0).normal(-3, 2, 1000)
    offset = image_model.operating_offset(combined, 0.7, target=0.007)
    probability = 1 / (1 + np.exp(-(combined - offset)))
    assert np.sum(probability > 0.7) == 7, "floor(0.7 % of 1000) clean scans pass the exam threshold"
    for error in (-1e-3, 1e-3):
        assert np.sum(1 / (1 + np.exp(-(combined - offset + error))) > 0.7) == 7, "a float error of the graph moves no scan across it"
    ranked = np.sort(combined)[::-1]
    assert ranked[6] - offset > np.log(0.7 / 0.3) > ranked[7] - offset, "the threshold lies between the 7th and the 8th"
    assert np.log(0.7 / 0.3) - (ranked[7] - offset) < 0.02, "just above the 8th: no more detection given up than the margin"
    none = image_model.operating_offset(combined, 0.7, target=0.0)
    assert np.sum(1 / (1 + np.exp(-(combined - none + 1e-3))) > 0.7) == 0, "with no scan allowed, none passes"
    with pytest.raises(ValueError, match="no clean scans"):
        image_model.operating_offset(np.zeros(0), 0.7)


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


def _physics() -> dict:
    return json.loads((DEFAULT_MODEL_DIR / "metadata.json").read_text())["physics"]


def test_the_manifest_input_holds_declared_material_shares_and_mass():
    v = manifest_vector([("780110", 3000.0), ("610910", 1000.0), ("721049", 0.0)])
    assert v.tolist() == pytest.approx([1.0, 0.25, 0.0, 0.0, 0.75, 0.4])
    assert (manifest_vector([]) == NO_MANIFEST).all() and (manifest_vector([("610910", 0.0)]) == NO_MANIFEST).all()
    assert manifest_inputs([[("690721", 500.0)], []]).tolist()[1] == NO_MANIFEST.tolist()


def test_stages_and_head_export_to_one_graph_the_scorer_serves_with_or_without_a_manifest(tmp_path):
    torch.manual_seed(0)
    head = image_model.ManifestHead()
    torch.nn.init.normal_(head.net[-1].weight)
    net = image_model.TwoStageCam(image_model.TinyCam().eval(), image_model.FineCam().eval(), offset=1.5, head=head.eval())
    image_model.export(net, tmp_path, {"physics": _physics()})
    load = XrayLoad("S1", "MSCU0000015", "Aster-6MV", 20, (Goods("610910", "shirts", 1, 5000.0, "organic"),), seed=5)
    x = np.repeat(model_input(render(load).image)[None], 2, axis=0)
    manifests = manifest_inputs([[("780110", 5000.0)], []])
    scorer = OnnxImageScorer(ImageScorerSettings(model_dir=str(tmp_path)))
    scores, heatmaps = scorer.score_inputs(x, manifests)
    with pytest.raises(ValueError, match="manifests"):
        scorer.score_inputs(x, manifests[:1])
    scorer.close()
    inputs = image_model.head_inputs(net, x, manifests)
    assert heatmaps.shape == (2, *HEATMAP_SHAPE)
    assert scores == pytest.approx(1 / (1 + np.exp(-(image_model.combined_logits(net, inputs) - 1.5))), abs=1e-5)
    assert scores[0] != pytest.approx(scores[1], abs=1e-4), "the declared goods move the score"
    meta = json.loads(Path(tmp_path, "metadata.json").read_text())
    assert meta["stage_offset"] == 1.5 and meta["inputs"] == ["image", "manifest"]
    coarse, fine = image_model.stages_from_onnx(tmp_path / "model.onnx")
    kept = image_model.TwoStageCam(coarse, fine, 0.0)
    assert image_model.head_inputs(kept, x, manifests)[:, :2] == pytest.approx(inputs[:, :2], abs=1e-4), "the stages load as exported"
    with pytest.raises(ValueError, match="two-stage model"):
        image_model.stages_from_onnx(_single_stage_onnx(tmp_path))


def test_without_a_head_the_graph_takes_the_image_alone_and_scores_the_stages_less_the_offset(tmp_path):
    torch.manual_seed(2)
    net = image_model.TwoStageCam(image_model.TinyCam().eval(), image_model.FineCam().eval(), offset=1.5)
    image_model.export(net, tmp_path, {"physics": _physics()})
    load = XrayLoad("S1", "MSCU0000015", "Aster-6MV", 20, (Goods("610910", "shirts", 1, 5000.0, "organic"),), seed=5)
    x = np.repeat(model_input(render(load).image)[None], 2, axis=0)
    manifests = manifest_inputs([[("780110", 5000.0)], []])
    scorer = OnnxImageScorer(ImageScorerSettings(model_dir=str(tmp_path)))
    scores, _ = scorer.score_inputs(x, manifests)
    assert not scorer.reads_manifest
    scorer.close()
    stages = image_model.combined_logits(net, image_model.head_inputs(net, x, manifests))
    assert scores == pytest.approx(1 / (1 + np.exp(-(stages - 1.5))), abs=1e-5)
    meta = json.loads(Path(tmp_path, "metadata.json").read_text())
    assert meta["inputs"] == ["image"] and "head_inputs" not in meta


def _single_stage_onnx(tmp_path: Path) -> Path:
    net = image_model.TinyCam().eval()
    path = tmp_path / "single.onnx"
    torch.onnx.export(net, (torch.zeros(1, *MODEL_SHAPE),), str(path), dynamo=False, opset_version=17, input_names=["image"])
    return path


class _ImageOnly(torch.nn.Module):
    """The graph of artefacts before the manifest input: (score, heatmap) of the image alone."""

    def __init__(self) -> None:
        super().__init__()
        self.net = image_model.TwoStageCam(image_model.TinyCam().eval(), image_model.FineCam().eval(), 0.0)

    def forward(self, x):
        coarse, fine, cam = self.net.logits(x)
        return torch.sigmoid(coarse + fine - 1.0), torch.sigmoid(cam)


def _image_only_artefact(tmp_path: Path, input_name: str) -> tuple[Path, torch.nn.Module]:
    tmp_path.mkdir(parents=True)
    torch.manual_seed(3)
    net = _ImageOnly().eval()
    torch.onnx.export(net, (torch.zeros(1, *MODEL_SHAPE),), str(tmp_path / "model.onnx"), dynamo=False, opset_version=17,
                      input_names=[input_name], output_names=["score", "heatmap"], dynamic_axes={input_name: {0: "batch"}})
    (tmp_path / "metadata.json").write_text(json.dumps({"version": "xray-cnn-old", "input_shape": list(MODEL_SHAPE), "physics": _physics()}))
    return tmp_path, net


def test_an_image_only_artefact_is_served_unchanged_and_other_graphs_are_refused(tmp_path):
    model_dir, net = _image_only_artefact(tmp_path / "old", "image")
    load = XrayLoad("S1", "MSCU0000015", "Aster-6MV", 20, (Goods("610910", "shirts", 1, 5000.0, "organic"),), seed=5)
    x = np.repeat(model_input(render(load).image)[None], 2, axis=0)
    scorer = OnnxImageScorer(ImageScorerSettings(model_dir=str(model_dir)))
    scores, _ = scorer.score_inputs(x, manifest_inputs([[("780110", 5000.0)], []]))
    assert not scorer.reads_manifest
    scorer.close()
    with torch.no_grad():
        expected = net(torch.from_numpy(x))[0].numpy()
    assert scores == pytest.approx(expected, abs=1e-5), "scored as the image-only graph scores, the manifest ignored"
    odd_dir, _ = _image_only_artefact(tmp_path / "odd", "pixels")
    with pytest.raises(ModelArtifactError, match="this version serves"):
        OnnxImageScorer(ImageScorerSettings(model_dir=str(odd_dir)))


def test_the_head_learns_an_opaque_block_is_suspicious_only_where_no_heavy_goods_are_declared():
    rng = np.random.default_rng(3)
    n = 48
    x = np.zeros((n, *MODEL_SHAPE), np.float32)
    x[:, :, 20:110, 10:400] = rng.uniform(1.0, 2.0, (n, 1, 1, 1))  # goods everywhere
    opaque = np.arange(n) % 2 == 0
    x[opaque, :, 30:100, 100:300] = 8.0  # a near-opaque block
    heavy = (np.arange(n) // 2) % 2 == 0
    manifests = manifest_inputs([[("780110" if h else "610910", 8000.0)] for h in heavy])
    y = (opaque & ~heavy).astype(np.int64)
    data = RenderedSet(x, y, ["among_goods" if v else "none" for v in y], ["Aster-6MV"] * n, [f"S{i}" for i in range(n)],
                       np.tile(np.array(NO_BOX, np.float32), (n, 1)), manifests)
    torch.manual_seed(0)
    net = image_model.TwoStageCam(image_model.TinyCam().eval(), image_model.FineCam().eval(), 0.0)
    net.head = image_model.train_head(net, data, image_model.TrainConfig(head_epochs=300, threads=1), log=lambda m: None)
    block = x[opaque][:1].repeat(3, axis=0)
    logits = image_model.combined_logits(net, image_model.head_inputs(
        net, block, np.stack([manifest_vector([("610910", 8000.0)]), manifest_vector([("780110", 8000.0)]), NO_MANIFEST])))
    undeclared_heavy, declared_heavy, undeclared = logits
    assert undeclared_heavy > declared_heavy + 2.0, "the same opaque block counts against a load that declares no heavy goods"
    assert np.isfinite(undeclared), "a scan without a declaration is still scored"


def test_stage_two_draws_hard_negatives_over_the_opaque_goods_of_clean_heavy_loads():
    n = 3
    x = np.zeros((n, *MODEL_SHAPE), np.float32)
    x[:, :, 20:110, 10:500] = 1.5
    x[:, :, 40:60, 400:420] = 8.0  # an opaque heavy unit far from the container front
    manifests = manifest_inputs([[("780110", 8000.0)], [("610910", 8000.0)], [("780110", 8000.0)]])
    y = np.array([0, 0, 1])
    boxes = np.array([NO_BOX, NO_BOX, (100.0, 50.0, 10.0, 10.0)], np.float32)
    data = RenderedSet(x, y, ["none", "none", "among_goods"], ["Aster-6MV"] * n, ["A", "B", "C"], boxes, manifests)
    assert image_model.heavy_clean(data).tolist() == [True, False, False]
    opaque = np.argwhere(x[0, 1] > image_model.OPACITY_LEVELS[-1])
    rng = np.random.default_rng(0)

    def covered(i: int, where) -> float:
        hits = 0
        for _ in range(200):
            r, c = image_model._patch_origin(rng, data, i, 500, where)
            hits += bool((x[i, 1, r : r + image_model.PATCH[0], c : c + image_model.PATCH[1]] > 7).any())
        return hits / 200

    assert covered(0, opaque) > 0.6, "most of a clean heavy load's patches hold its opaque unit"
    assert covered(1, None) < 0.4, "other clean loads are sampled anywhere"
