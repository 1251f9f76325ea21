"""The committed ONNX image model served by onnxruntime: assessments, heatmaps, physics, failures, async."""

from __future__ import annotations

import asyncio
import io
import json
import uuid

import numpy as np
import pytest
from PIL import Image

from zeikan.images.errors import ModelArtifactError
from zeikan.images.store import open_store
from zeikan.models.base import ImageScorer
from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer
from zeikan.streams.serving.scoring import assess_off_loop
from zeikan.sim.xray import render
from zeikan.sim.xray_loads import Goods, XrayLoad


STORE_URL = f"memory://scorer-{uuid.uuid4().hex}"
"""the one store the module's scorer reads from (any other image_uri is refused)"""


@pytest.fixture(scope="module")
def scorer():
    s = OnnxImageScorer(ImageScorerSettings(store_url=STORE_URL))
    yield s
    s.close()


def _load(i: int, concealment: str | None, kg: float = 6000.0) -> XrayLoad:
    return XrayLoad(f"S{i}", f"MSCU{i:06d}5", "Aster-6MV", 40, (Goods("610910", "shirts", 1, kg, "organic"),),
                    concealment=concealment, seed=100 + i)


def _scan(store, load: XrayLoad) -> dict:
    stored = store.put(render(load).image)
    return {"scan_id": load.scan_id, "container_id": load.container_id, "image_uri": stored.uri, "image_sha256": stored.sha256}


def _declared(kg: float) -> list[dict]:
    return [{"containers": ["C1"], "items": [{"hs_code": "610910", "gross_weight_kg": kg}]}]


def test_assessments_carry_score_heatmap_and_physics(scorer):
    assert isinstance(scorer, ImageScorer) and scorer.version.startswith("xray-cnn-")
    store = open_store(STORE_URL)
    scans = [_scan(store, _load(1, None)), _scan(store, _load(2, "wall")), _scan(store, _load(3, None, kg=9000.0))]
    out = scorer.assess_batch(scans, [_declared(6000.0), _declared(6000.0), _declared(3000.0)])
    assert [a.scan_id for a in out] == ["S1", "S2", "S3"]
    assert out[0].anomaly_score < 0.5 < out[1].anomaly_score
    assert any("concealment" in r for r in out[1].reasons)
    assert out[0].implied_mass_kg == pytest.approx(6000.0, rel=0.1) and out[0].reasons == ()
    assert out[2].anomaly_score > 0.5 and "more than the declared 3.0 t" in " ".join(out[2].reasons)
    heatmap = Image.open(io.BytesIO(store.get_bytes(out[1].heatmap_uri)))
    assert heatmap.mode == "L" and heatmap.size[0] > heatmap.size[1]


def test_concealed_loads_score_higher_than_clean_ones(scorer):
    store = open_store(STORE_URL)
    kinds = ["wall", "floor", "among_goods"] * 3
    hidden = [_scan(store, _load(10 + i, k)) for i, k in enumerate(kinds)]
    clean = [_scan(store, _load(30 + i, None)) for i in range(len(kinds))]
    scores = [a.anomaly_score for a in scorer.assess_batch(hidden + clean, [_declared(6000.0)] * (2 * len(kinds)))]
    assert np.mean(scores[: len(kinds)]) > np.mean(scores[len(kinds) :]) + 0.3


def test_a_scan_without_declared_goods_is_scored_and_says_so_by_a_model_that_reads_the_manifest(scorer, tmp_path):
    torch = pytest.importorskip("torch")
    from zeikan.images import model as image_model
    from zeikan.images.scorer import DEFAULT_MODEL_DIR, NO_DECLARATION_REASON

    torch.manual_seed(0)
    physics = json.loads((DEFAULT_MODEL_DIR / "metadata.json").read_text())["physics"]
    image_model.export(image_model.TwoStageCam(image_model.TinyCam().eval(), image_model.FineCam().eval(), 0.0, image_model.ManifestHead().eval()),
                       tmp_path, {"physics": physics})
    reading = OnnxImageScorer(ImageScorerSettings(model_dir=str(tmp_path), store_url=STORE_URL))
    store = open_store(STORE_URL)
    scans = [_scan(store, _load(60, "wall")), _scan(store, _load(61, None))]
    declared, undeclared = reading.assess_batch(scans, [_declared(6000.0), []])
    reading.close()
    assert reading.reads_manifest and undeclared.anomaly_score is not None and undeclared.unassessed is None
    assert NO_DECLARATION_REASON in undeclared.reasons and NO_DECLARATION_REASON not in declared.reasons
    if not scorer.reads_manifest:  # the shipped image-only artefact ignores the declaration, so it does not say so
        assert not any(NO_DECLARATION_REASON in a.reasons for a in scorer.assess_batch(scans, [_declared(6000.0), []]))


def test_unreadable_images_get_no_score_and_do_not_break_the_batch():
    store = open_store(f"memory://scorer-{uuid.uuid4().hex}")
    scorer = OnnxImageScorer(ImageScorerSettings(store_url=store.url))  # its own store: a missing object is really missing
    good = _scan(store, _load(1, None))
    missing = dict(good, scan_id="S-missing", image_uri=f"{store.url}/objects/00/00{'0' * 62}.tif", image_sha256="0" * 64)
    mismatch = dict(good, scan_id="S-mismatch", image_sha256="f" * 64)
    out = scorer.assess_batch([missing, good, mismatch], [[], [], []])
    scorer.close()
    assert [a.anomaly_score is None for a in out] == [True, False, True]
    assert [a.unassessed for a in out] == ["image_refused", None, "image_refused"]
    assert out[0].reasons[0].endswith(": analyst review") and "no such object" in out[0].reasons[0] and out[1].heatmap_uri


def test_the_stream_scores_images_off_the_event_loop(scorer):
    store = open_store(STORE_URL)
    scans = [_scan(store, _load(i, None)) for i in range(4)] * 8

    async def run() -> tuple[list, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        before = ticks
        (result,) = await assess_off_loop(scorer, [({"declaration": _declared(6000.0)[0]}, scans)])
        during = ticks - before
        task.cancel()
        return result, during

    result, during = asyncio.run(run())
    assert during > 10  # the loop kept running other tasks while the batch was scored
    assert [a.anomaly_score for a in result] == [a.anomaly_score for a in scorer.assess_batch(scans, [_declared(6000.0)] * len(scans))]


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelArtifactError, match="zeikan images train"):
        OnnxImageScorer(ImageScorerSettings(model_dir=str(tmp_path)))



def test_an_artefact_for_another_input_shape_is_refused(tmp_path):
    from zeikan.images.scorer import DEFAULT_MODEL_DIR

    meta = json.loads((DEFAULT_MODEL_DIR / "metadata.json").read_text())
    (tmp_path / "metadata.json").write_text(json.dumps({**meta, "input_shape": [2, 64, 256], "pitch_mm": 50.0}))
    (tmp_path / "model.onnx").write_bytes((DEFAULT_MODEL_DIR / "model.onnx").read_bytes())
    with pytest.raises(ModelArtifactError, match=r"input \(2, 64, 256\), this version serves \(2, 128, 512\)"):
        OnnxImageScorer(ImageScorerSettings(model_dir=str(tmp_path)))
