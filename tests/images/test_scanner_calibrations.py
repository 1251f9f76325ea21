"""Per-scanner thresholds and physics calibrations: onboarding from clean traffic, the table, the live scorer and POST_SCAN."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from zeikan.images.dataset import model_input
from zeikan.images.errors import ImageError
from zeikan.images.manifest import manifest_inputs
from zeikan.images.physics import check
from zeikan.images.scanner_adaptation import loaded_medians, mean_logit, mirrored, scale_inputs
from zeikan.images.scanner_calibrations import (
    ScannerCalibrationError,
    ScannerCalibrations,
    load_calibrations,
    onboard_scanner,
    save_calibrations,
)
from zeikan.images.store import open_store
from zeikan.models.base import ImageAssessment
from zeikan.schemas.reference import make_container_id
from zeikan.images.scorer import DEFAULT_MODEL_DIR, ImageScorerSettings, OnnxImageScorer
from zeikan.sim.xray_kestrel import SCANNER, canonical_of, render_kestrel
from zeikan.sim.xray_loads import random_loads
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.post_scan import post_scan_decision

FALSE_ALARMS = 0.05


@pytest.fixture(scope="module")
def clean_traffic():
    """20 clean scans of the second renderer (never trained on) with their declared goods."""
    loads = [replace(lo, container_id=make_container_id("KDXU", n))  # ISO 6346 ids, as declarations carry
             for n, lo in enumerate(random_loads(20, 91, (SCANNER,), concealment_rate=0.0, misdeclared_rate=0.0))]
    images = [canonical_of(render_kestrel(load)) for load in loads]
    return loads, images


def _declared(load) -> list[tuple[str, float]]:
    return [(g.hs_code, g.gross_weight_kg) for g in load.declared_goods]


def _declaration(load) -> dict:
    return {"containers": [load.container_id], "items": [{"hs_code": h, "gross_weight_kg": kg} for h, kg in _declared(load)]}


def _scorer(tmp_path, scanners_url: str) -> OnnxImageScorer:
    return OnnxImageScorer(ImageScorerSettings(store_url=str(tmp_path / "store"), scanners_url=scanners_url))


def test_an_onboarded_scanner_gets_its_own_threshold_in_the_live_scorer(clean_traffic, tmp_path):
    loads, images = clean_traffic
    base = _scorer(tmp_path, str(tmp_path / "none.json"))
    entry = onboard_scanner(base, SCANNER, images, [_declared(lo) for lo in loads], FALSE_ALARMS)
    table = ScannerCalibrations(base.model_version).with_entry(entry)
    url = str(tmp_path / "scanners.json")
    save_calibrations(url, table)
    base.close()

    scorer = _scorer(tmp_path, url)
    assert scorer.version == f"{scorer.model_version}+scanners-{table.digest}" != scorer.model_version
    store = open_store(str(tmp_path / "store"))
    scans = []
    for n, img in enumerate(images):
        stored = store.put(img)
        scans.append({"scan_id": img.meta.scan_id, "container_id": img.meta.container_id, "scanner_id": "XR-7",
                      "image_uri": stored.uri, "image_sha256": stored.sha256})
    live = scorer.assess_batch(scans, [[_declaration(lo)] for lo in loads])
    scorer.close()
    # keyed by the scanner model of the image metadata (no entry for the scanner id XR-7)
    assert {a.threshold_of for a in live} == {SCANNER} and {a.exam_threshold for a in live} == {entry.exam_threshold}
    examined = [a for a in live if a.anomaly_score >= a.exam_threshold]
    assert len(examined) <= FALSE_ALARMS * len(images), "at most the target share of the clean traffic reaches the threshold"
    assert entry.clean_scans == 20 and entry.physics != base.calibration, "physics constants fitted on that scanner"


def test_post_scan_examines_each_scan_at_its_scanners_threshold():
    opened = {"declaration_id": "D1", "office_id": "O", "filed_at": 1, "rule_floor": None, "rule_hits": [], "rules_score": 0.0,
              "tabular": 0.1, "random_selected": False, "versions": {}, "pre_decision_id": "P"}
    scans = [{"scan_id": "S1", "scanned_at": 2}]
    config = EngineConfig(post_scan_exam_threshold=0.7)

    def decide(assessment):
        return post_scan_decision(opened, scans, [assessment], "m", config, 3)

    default = decide(ImageAssessment("S1", "C1", 0.8))
    assert default["action"] == "PHYSICAL_EXAM" and default["reasons"][0] == "scan S1 of C1: image anomaly 0.80 >= 0.70"
    quiet_scanner = decide(ImageAssessment("S1", "C1", 0.8, exam_threshold=0.9, threshold_of="XR-7"))
    assert quiet_scanner["action"] == "RELEASE"
    assert quiet_scanner["reasons"] == ["all 1 scan(s) below their scanners' image anomaly thresholds (0.90)"]
    sharp_scanner = decide(ImageAssessment("S1", "C1", 0.4, exam_threshold=0.35, threshold_of="XR-7"))
    assert sharp_scanner["action"] == "PHYSICAL_EXAM"
    assert sharp_scanner["reasons"][0] == "scan S1 of C1: image anomaly 0.40 >= 0.35 (threshold of scanner XR-7)"
    assert decide(ImageAssessment("S1", "C1", 0.4))["action"] == "RELEASE"


def test_a_table_for_another_model_or_malformed_is_refused_and_a_missing_one_is_empty(tmp_path):
    scorer = _scorer(tmp_path, str(tmp_path / "absent.json"))
    assert scorer.version == scorer.model_version and not scorer.scanners.entries
    scorer.close()
    stale = tmp_path / "stale.json"
    stale.write_text(ScannerCalibrations("xray-cnn-000000000000").to_json())
    with pytest.raises(ScannerCalibrationError, match="set for image model xray-cnn-000000000000"):
        _scorer(tmp_path, str(stale))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"format": "zeikan-image-scanners/1", "model_version": "m", "scanners": [{"scanner": "X"}]}))
    with pytest.raises(ScannerCalibrationError) as err:
        load_calibrations(str(broken), "m")
    assert "\n" not in str(err.value) and "KeyError" in str(err.value)
    entry = {"scanner": "X", "exam_threshold": 0.5, "false_alarm_rate": 0.01, "clean_scans": 100,
             "physics": json.loads((DEFAULT_MODEL_DIR / "metadata.json").read_text())["physics"], "input_gain": [1.2, 0.0]}
    broken.write_text(json.dumps({"format": "zeikan-image-scanners/1", "model_version": "m", "scanners": [entry]}))
    with pytest.raises(ScannerCalibrationError, match=r"input gains of \['X'\] are not positive"):
        load_calibrations(str(broken), "m")


def test_onboarding_needs_enough_clean_traffic_for_the_false_alarm_target(clean_traffic, tmp_path):
    loads, images = clean_traffic
    scorer = _scorer(tmp_path, str(tmp_path / "none.json"))
    with pytest.raises(ImageError, match="needs at least 100 clean scans, got 20"):
        onboard_scanner(scorer, SCANNER, images, [_declared(lo) for lo in loads], 0.01)
    scorer.close()


def test_the_table_round_trips_exactly(clean_traffic, tmp_path):
    loads, images = clean_traffic
    scorer = _scorer(tmp_path, str(tmp_path / "none.json"))
    entry = onboard_scanner(scorer, "XR-7", images, [_declared(lo) for lo in loads], FALSE_ALARMS)
    table = ScannerCalibrations(scorer.model_version).with_entry(entry)
    scorer.close()
    save_calibrations(str(tmp_path / "t.json"), table)
    again = load_calibrations(str(tmp_path / "t.json"), table.model_version)
    assert again == table and again.digest == table.digest
    assert again.for_scan("XR-7", "anything") == entry and again.for_scan("XR-8", SCANNER) is None
    assert again.entries["XR-7"].input_gain == entry.input_gain and len(entry.input_gain) == 2
    assert float(np.float64(again.entries["XR-7"].exam_threshold)) == entry.exam_threshold


def test_zeikan_images_onboard_writes_the_scanners_entry_from_a_store_and_its_declarations(clean_traffic, tmp_path):
    from typer.testing import CliRunner

    from tests.streams.pipeline_factories import history
    from zeikan.schemas.jsonl import write_jsonl
    from zeikan.cli.main import app

    loads, images = clean_traffic
    store = open_store(str(tmp_path / "store"))
    for img in images:
        store.put(img)
    template = history(days=1, per_day=len(loads), seed=3)["declarations"]
    declarations = [dict(d, containers=[lo.container_id],
                         items=[dict(d["items"][0], line_no=n, hs_code=g.hs_code, gross_weight_kg=g.gross_weight_kg)
                                for n, g in enumerate(lo.declared_goods, 1)])
                    for d, lo in zip(template, loads[:-1])]  # the last scan's container has no declaration
    write_jsonl(tmp_path / "declarations.jsonl", "declarations", declarations)
    table = tmp_path / "scanners.json"
    args = ["images", "onboard", str(tmp_path / "store"), "--scanner", "XR-7", "--declarations", str(tmp_path / "declarations.jsonl"),
            "--false-alarms", "0.1", "--scanners", str(table)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["clean_scans"] == 19 and summary["skipped_no_declaration"] == 1
    saved = json.loads(table.read_text())
    assert [e["scanner"] for e in saved["scanners"]] == ["XR-7"] and saved["scanners"][0]["exam_threshold"] == summary["exam_threshold"]
    assert summary["labelled_scans"] == 0 and len(summary["input_gain"]) == 2 and summary["mirror_average"] is False
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps({"scan_id": img.meta.scan_id, "label": "white"}) + "\n" for img in images[:10]))
    with_labels = CliRunner().invoke(app, [*args, "--labelled", str(tmp_path / "store"), "--labels", str(tmp_path / "labels.jsonl")])
    assert with_labels.exit_code == 0, with_labels.output
    assert json.loads(with_labels.stdout)["labelled_scans"] == 10, "the labelled scans with a declaration and a label"
    alone = CliRunner().invoke(app, [*args, "--labelled", str(tmp_path / "store")])
    assert isinstance(alone.exception, ImageError) and "--labelled and --labels go together" in str(alone.exception)
    proc = subprocess.run([sys.executable, "-m", "zeikan.cli.main", *args[:5], "--declarations", str(tmp_path / "nope.jsonl")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "does not exist or is not a file" in proc.stderr


def _stored_scans(tmp_path, images, scanner_id: str) -> list[dict]:
    store = open_store(str(tmp_path / "store"))
    scans = []
    for img in images:
        stored = store.put(img)
        scans.append({"scan_id": img.meta.scan_id, "container_id": img.meta.container_id, "scanner_id": scanner_id,
                      "image_uri": stored.uri, "image_sha256": stored.sha256})
    return scans


def _onboarded(tmp_path, clean_traffic, **changes) -> tuple:
    """(entry of XR-7 onboarded on the clean traffic, with ``changes``; a scorer that loaded its table)."""
    loads, images = clean_traffic
    base = _scorer(tmp_path, str(tmp_path / "none.json"))
    entry = replace(onboard_scanner(base, "XR-7", images, [_declared(lo) for lo in loads], FALSE_ALARMS), **changes)
    url = str(tmp_path / "scanners.json")
    save_calibrations(url, ScannerCalibrations(base.model_version).with_entry(entry))
    base.close()
    return entry, _scorer(tmp_path, url)


def _live_and_physics(scorer, tmp_path, clean_traffic, scanner_id: str, physics_calibration) -> tuple[list, np.ndarray, np.ndarray]:
    """The live scorer's assessments of the clean traffic under ``scanner_id``, their anomaly scores, each scan's physics score."""
    loads, images = clean_traffic
    live = scorer.assess_batch(_stored_scans(tmp_path, images, scanner_id), [[_declaration(lo)] for lo in loads])
    physics = np.array([check(img, _declared(lo), physics_calibration).score for img, lo in zip(images, loads)])
    return live, np.array([a.anomaly_score for a in live]), physics


def _raw(clean_traffic) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs (no gain) and manifests of the clean traffic."""
    loads, images = clean_traffic
    return np.stack([model_input(img) for img in images]), manifest_inputs([_declared(lo) for lo in loads])


def test_the_onboarded_input_gain_is_stored_and_applied_before_inference_by_the_live_scorer(clean_traffic, tmp_path):
    """Issue 12, adaptation: the gain estimated from the scanner's clean traffic sits in its entry and the live scorer
    multiplies that scanner's model inputs by it; scores are those of the gained inputs, not of the raw ones."""
    entry, scorer = _onboarded(tmp_path, clean_traffic)
    raw, manifests = _raw(clean_traffic)
    assert entry.input_gain == pytest.approx([r / o for r, o in zip(scorer.metadata["clean_loaded_median"], loaded_medians(raw))])
    assert min(entry.input_gain) > 1.05, "Kestrel's clean traffic is fainter than the training scanners' in both channels"
    assert scorer.scanners.entries["XR-7"].input_gain == entry.input_gain, "stored in the table the scorer loads"
    assert not entry.mirror_average, "no labelled scans: no mirror averaging"
    expected, _ = scorer.score_inputs(scale_inputs(raw, entry.input_gain), manifests)
    raw_scores, _ = scorer.score_inputs(raw, manifests)
    _, live, physics = _live_and_physics(scorer, tmp_path, clean_traffic, "XR-7", entry.physics)
    scorer.close()
    np.testing.assert_allclose(live, np.maximum(expected, physics), rtol=1e-5, atol=1e-7)
    assert np.abs(live - np.maximum(raw_scores, physics)).max() > 1e-3, "the raw inputs would score differently"


def test_an_unknown_scanner_gets_no_gain_and_does_not_fire_on_everything(clean_traffic, tmp_path):
    """A scanner with no entry keeps its raw inputs and the engine's threshold; on clean scans of a renderer the model
    never saw, few reach that threshold."""
    _, scorer = _onboarded(tmp_path, clean_traffic)
    raw_scores, _ = scorer.score_inputs(*_raw(clean_traffic))
    assessed, live, physics = _live_and_physics(scorer, tmp_path, clean_traffic, "XR-9", scorer.calibration)
    scorer.close()
    assert {a.exam_threshold for a in assessed} == {None} and {a.threshold_of for a in assessed} == {None}
    np.testing.assert_allclose(live, np.maximum(raw_scores, physics), rtol=1e-5, atol=1e-7,
                               err_msg="an unknown scanner's inputs are scored as they are")
    examined = int((live >= EngineConfig().post_scan_exam_threshold).sum())
    assert examined <= 0.1 * len(live), f"{examined} of {len(live)} clean scans of an unknown scanner examined"


def test_an_entry_with_mirror_averaging_is_scored_as_the_mean_logit_of_the_input_and_its_mirror(clean_traffic, tmp_path):
    entry, scorer = _onboarded(tmp_path, clean_traffic, mirror_average=True)
    assert scorer.scanners.entries["XR-7"].mirror_average
    raw, manifests = _raw(clean_traffic)
    gained = scale_inputs(raw, entry.input_gain)
    plain, _ = scorer.score_inputs(gained, manifests)
    expected = mean_logit(plain, scorer.score_inputs(mirrored(gained), manifests)[0])
    _, live, physics = _live_and_physics(scorer, tmp_path, clean_traffic, "XR-7", entry.physics)
    scorer.close()
    np.testing.assert_allclose(live, np.maximum(expected, physics), rtol=1e-4, atol=1e-6)
    assert np.abs(live - np.maximum(plain, physics)).max() > 1e-3, "without the mirror the scores differ"
