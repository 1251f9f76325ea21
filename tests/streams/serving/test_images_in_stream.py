"""Issue 6 must-show, live: scan event -> image scored by the ONNX model in a real ``zeikan worker`` ->
POST_SCAN decision with the image component and a heatmap reference (real broker, real rendered images)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.streams.pipeline_factories import HOUR, history, scan
from tests.streams.worker_harness import WorkerProcess, decision_ids_settle, in_event_time_order, publish_events
from zeikan.images.store import open_store, store_of_uri
from zeikan.images.scorer import DEFAULT_MODEL_DIR
from zeikan.schemas.reference import make_container_id
from zeikan.sim.xray import render
from zeikan.sim.xray_loads import Goods, XrayLoad

pytestmark = pytest.mark.timeout(120)

GOODS = (Goods("940360", "wooden furniture", 300, 6000.0, "organic"),)


def _run_worker(broker, env: dict[str, str], tmp_path, hist, scans) -> tuple[list[dict], str]:
    """Decisions of a real worker over the history and scans, and its log."""
    worker = WorkerProcess(broker.bootstrap, tmp_path / "w", env)
    try:
        worker.wait_caught_up()
        publish_events(broker.bootstrap, in_event_time_order(hist, scans))
        decisions = decision_ids_settle(broker.bootstrap, len(hist["declarations"]) + 1, 60, worker.log_path)
    finally:
        worker.stop()
    return decisions, worker.log_text()


def rendered_scans(store_dir, containers: list[str], t: int) -> list[dict]:
    """One real canonical image per container (the first with a dense package in the wall), stored and referenced."""
    store = open_store(str(store_dir))
    scans = []
    for n, container_id in enumerate(containers):
        load = XrayLoad(scan_id=f"SCN-{n + 1:07d}", container_id=container_id, scanner_model="Aster-6MV",
                        length_ft=40, true_goods=GOODS, declared_goods=GOODS,
                        concealment="wall" if n == 0 else None, seed=100 + n)
        stored = store.put(render(load).image)
        record = scan(n + 1, container_id, t + n * HOUR)
        record.update(image_uri=stored.uri, image_sha256=stored.sha256)
        scans.append(record)
    return scans


def test_scan_event_is_scored_by_the_onnx_model_into_a_post_scan_decision(fresh_broker, tmp_path):
    hist = history(days=1, per_day=20, seed=8)
    chosen = hist["declarations"][3]
    chosen["containers"] = [make_container_id("TGHU", 901), make_container_id("TGHU", 902)]
    chosen["items"] = [dict(chosen["items"][0], hs_code="94036000", description="wooden furniture", quantity=600.0,
                            gross_weight_kg=12_000.0, customs_value=Decimal("90000.00"))]  # what the images show
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"version: scan-one\nrules:\n  - id: scan-it\n    when: [\"declaration_id in [{chosen['declaration_id']}]\"]\n    action: SCAN\n")
    scans = rendered_scans(tmp_path / "images", chosen["containers"], chosen["filed_at"] + 2 * HOUR)
    version = json.loads((DEFAULT_MODEL_DIR / "metadata.json").read_text())["version"]

    env = {"ZEIKAN_RULES": str(rules), "ZEIKAN_REGISTRY": str(tmp_path / "no-models"), "ZEIKAN_IMAGE_STORE": str(tmp_path / "images")}
    decisions, log_text = _run_worker(fresh_broker(), env, tmp_path, hist, scans)
    assert "no live model in registry" in log_text, "the heuristic fallback is logged"

    post = [d for d in decisions if d["stage"] == "POST_SCAN"]
    assert [d["declaration_id"] for d in post] == [chosen["declaration_id"]]
    decision = post[0]
    assert decision["model_versions"]["image"] == version and decision["model_versions"]["tabular"] == "heuristic-1"
    evidence = {e["scan_id"]: e for e in decision["image_evidence"]}
    assert set(evidence) == {s["scan_id"] for s in scans}
    assert decision["scores"]["image"] == pytest.approx(max(e["anomaly_score"] for e in evidence.values()), abs=1e-6)
    for e in evidence.values():
        assert 0.0 <= e["anomaly_score"] <= 1.0 and e["implied_mass_kg"] > 0
        uri = e["heatmap_uri"]
        assert uri.startswith((tmp_path / "images").resolve().as_uri())
        assert store_of_uri(uri).get_bytes(uri)[:8] == b"\x89PNG\r\n\x1a\n"
    concealed, clean = evidence["SCN-0000001"], evidence["SCN-0000002"]
    assert concealed["anomaly_score"] >= 0.7 > clean["anomaly_score"], "the CNN sees the package hidden in the wall"
    assert decision["action"] == "PHYSICAL_EXAM" and decision["scores"]["image"] == concealed["anomaly_score"]
    assert any("possible concealment" in r for r in decision["reasons"])


def _scan_one_declaration(tmp_path, containers: int = 2) -> tuple[dict, dict, object]:
    """A day of declarations with one sent to SCAN by a rule (its containers replaced)."""
    hist = history(days=1, per_day=20, seed=8)
    chosen = hist["declarations"][3]
    chosen["containers"] = [make_container_id("TGHU", 901 + i) for i in range(containers)]
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"version: scan-one\nrules:\n  - id: scan-it\n    when: [\"declaration_id in [{chosen['declaration_id']}]\"]\n    action: SCAN\n")
    return hist, chosen, rules


def _post_scan_of(broker, worker_env, tmp_path, hist, scans) -> dict:
    decisions, _ = _run_worker(broker, worker_env, tmp_path, hist, scans)
    post = [d for d in decisions if d["stage"] == "POST_SCAN"]
    assert len(post) == 1
    return post[0]


def test_path_traversal_and_unreadable_images_are_refused_and_never_released(fresh_broker, tmp_path):
    """Issue 11 item 5, live: a scan naming a file outside the store reads nothing of it and releases nothing."""
    hist, chosen, rules = _scan_one_declaration(tmp_path)
    store = open_store(str(tmp_path / "images"))
    (tmp_path / "secret.txt").write_bytes(b"SECRET-PASSWORD-4711")
    hostile = scan(1, chosen["containers"][0], chosen["filed_at"] + 2 * HOUR)
    hostile.update(image_uri=f"{store.url}/objects/../../secret.txt", image_sha256="")
    missing = scan(2, chosen["containers"][1], chosen["filed_at"] + 3 * HOUR)
    missing.update(image_uri=f"{store.url}/objects/ab/ab{'0' * 62}.tif", image_sha256="")
    env = {"ZEIKAN_RULES": str(rules), "ZEIKAN_REGISTRY": str(tmp_path / "no-models"), "ZEIKAN_IMAGE_STORE": str(tmp_path / "images")}
    decision = _post_scan_of(fresh_broker(), env, tmp_path, hist, [hostile, missing])
    assert decision["action"] == "SCAN", "an unreadable or refused image must never release the container"
    assert decision["scores"]["image"] is None and decision["image_evidence"] == []
    text = json.dumps(decision, default=str)
    assert "SECRET" not in text and "4711" not in text
    assert any("scan SCN-0000001" in r and "not a canonical image address" in r for r in decision["reasons"])
    assert any("scan SCN-0000002" in r and "no such object" in r for r in decision["reasons"])


def test_with_the_image_model_removed_post_scan_says_image_model_unavailable(fresh_broker, tmp_path):
    """Issue 12 must-show, live: no meaningless fallback; the engine's policy sets the lane; the metric counts it."""
    hist, chosen, rules = _scan_one_declaration(tmp_path, containers=1)
    scans = rendered_scans(tmp_path / "images", chosen["containers"], chosen["filed_at"] + 2 * HOUR)
    env = {"ZEIKAN_RULES": str(rules), "ZEIKAN_REGISTRY": str(tmp_path / "no-models"), "ZEIKAN_IMAGE_STORE": str(tmp_path / "images"),
           "ZEIKAN_IMAGE_MODEL_DIR": str(tmp_path / "image-model-removed")}
    decision = _post_scan_of(fresh_broker(), env, tmp_path, hist, scans)
    assert decision["reasons"] == ["image model unavailable: analyst review"]
    assert decision["scores"]["image"] is None and decision["image_evidence"] == []
    assert decision["action"] == "SCAN" and decision["model_versions"]["image"] == "image-unavailable"


def test_an_onboarded_scanner_is_examined_at_its_own_threshold_live_and_in_replay(fresh_broker, tmp_path, monkeypatch):
    """Issue 12, per-scanner state: a scanner onboarded from its clean traffic gets its own threshold in the live
    POST_SCAN path; replay with the same configured table gives the same decisions."""
    from zeikan.images.scanner_calibrations import ScannerCalibrations, onboard_scanner, save_calibrations
    from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer
    from zeikan.schemas.jsonl import write_jsonl
    from zeikan.sim.xray_kestrel import SCANNER, canonical_of, render_kestrel
    from zeikan.sim.xray_loads import random_loads
    from zeikan.streams.engine.config import EngineConfig
    from zeikan.streams.engine.rules import RuleFile
    from zeikan.streams.replay import replay

    clean = random_loads(20, 95, (SCANNER,), concealment_rate=0.0, misdeclared_rate=0.0)
    scorer = OnnxImageScorer(ImageScorerSettings(store_url=str(tmp_path / "images"), scanners_url=str(tmp_path / "none.json")))
    entry = onboard_scanner(scorer, "XR-1", [canonical_of(render_kestrel(lo)) for lo in clean],
                            [[(g.hs_code, g.gross_weight_kg) for g in lo.declared_goods] for lo in clean], 0.05)
    table = ScannerCalibrations(scorer.model_version).with_entry(entry)
    scorer.close()
    save_calibrations(str(tmp_path / "scanners.json"), table)

    hist, chosen, rules = _scan_one_declaration(tmp_path, containers=1)
    load = random_loads(1, 96, (SCANNER,), concealment_rate=0.0, misdeclared_rate=0.0)[0]
    chosen["items"] = [dict(chosen["items"][0], line_no=n, hs_code=g.hs_code, description=g.description, quantity=float(g.quantity),
                            gross_weight_kg=g.gross_weight_kg) for n, g in enumerate(load.declared_goods, 1)]
    stored = open_store(str(tmp_path / "images")).put(canonical_of(render_kestrel(load)))
    record = scan(1, chosen["containers"][0], chosen["filed_at"] + 2 * HOUR)  # scanner_id XR-1
    record.update(image_uri=stored.uri, image_sha256=stored.sha256)
    env = {"ZEIKAN_RULES": str(rules), "ZEIKAN_REGISTRY": str(tmp_path / "no-models"), "ZEIKAN_IMAGE_STORE": str(tmp_path / "images"),
           "ZEIKAN_IMAGE_SCANNERS": str(tmp_path / "scanners.json")}
    live, _ = _run_worker(fresh_broker(), env, tmp_path, hist, [record])
    decision = next(d for d in live if d["stage"] == "POST_SCAN")
    assert decision["model_versions"]["image"] == f"{table.model_version}+scanners-{table.digest}"
    score = decision["image_evidence"][0]["anomaly_score"]
    examined = score >= entry.exam_threshold
    assert decision["action"] == ("PHYSICAL_EXAM" if examined else "RELEASE")
    wanted = "(threshold of scanner XR-1)" if examined else f"below their scanners' image anomaly thresholds ({entry.exam_threshold:.2f})"
    assert wanted in decision["reasons"][0]

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    directory = tmp_path / "history"
    directory.mkdir()
    write_jsonl(directory / "declarations.jsonl", "declarations", hist["declarations"])
    write_jsonl(directory / "inspection-results.jsonl", "inspection-results", hist["inspection-results"])
    write_jsonl(directory / "scans.jsonl", "scans", [record])
    replayed = list(replay(directory, RuleFile(rules).book, EngineConfig())[0])
    strip = lambda ds: sorted((d["decision_id"], d["action"], tuple(d["reasons"])) for d in ds)  # noqa: E731
    assert strip(replayed) == strip(live), "live == replay with the same per-scanner table"
