"""Per-scanner thresholds and physics calibrations: onboarding from clean traffic, the table, the live scorer and POST_SCAN."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from zeikan.images.errors import ImageError
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
from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer
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
    proc = subprocess.run([sys.executable, "-m", "zeikan.cli.main", *args[:5], "--declarations", str(tmp_path / "nope.jsonl")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "does not exist or is not a file" in proc.stderr
