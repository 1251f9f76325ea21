"""Annotation queue: ranking, labels from inspection outcomes, COCO export/import, metrics, AL experiment."""

from __future__ import annotations

import json

import numpy as np

from zeikan.images.active_learning import experiment, fit_logistic, predict_logistic
from zeikan.images.annotation import Candidate, export_coco, import_coco, labels_from_inspection, rank
from zeikan.images.labels import Box
from zeikan.images.evaluation_metrics import detection_at_fa, evaluate_scores, roc_auc


def _sha(i: int) -> str:
    return f"{i:064x}"


def test_rank_prefers_uncertain_and_disagreeing_images():
    cands = [Candidate(_sha(1), "u1", 0.02), Candidate(_sha(2), "u2", 0.5), Candidate(_sha(3), "u3", 0.97),
             Candidate(_sha(4), "u4", 0.1, physics_score=0.9)]
    order = [c.image_sha256 for c in rank(cands, labelled={_sha(3)})]
    assert order == [_sha(2), _sha(4), _sha(1)]
    assert len(rank(cands, limit=2)) == 2


def _result(outcome: str, itype: str, kinds: tuple[str, ...] = ()) -> dict:
    return {"inspection_id": "I1", "declaration_id": "D1", "inspected_at": 5_000, "officer_id": "OF-1",
            "inspection_type": itype, "outcome": outcome,
            "findings": [{"line_no": 1, "kind": k, "note": ""} for k in kinds]}


def test_inspection_outcomes_become_labels():
    scans = [{"image_sha256": _sha(7), "declaration_ids": ["D1"]}, {"image_sha256": _sha(8), "declaration_ids": ["D2"]},
             {"image_sha256": _sha(9), "declaration_ids": []}]
    black = labels_from_inspection(_result("SEIZURE", "PHYSICAL", ("CONCEALMENT",)), scans)
    assert [(lb.image_sha256, lb.verdict, lb.source) for lb in black] == [(_sha(7), "black", "seizure"), (_sha(9), "black", "seizure")]
    white = labels_from_inspection(_result("NO_FINDING", "PHYSICAL"), scans)
    assert {lb.verdict for lb in white} == {"white"} and white[0].source == "inspection" and white[0].annotator == "OF-1"
    assert labels_from_inspection(_result("NO_FINDING", "DOCUMENT"), scans) == []
    assert labels_from_inspection(_result("SEIZURE", "PHYSICAL", ("UNDERVALUATION",)), scans) == []


def test_coco_export_then_import_answers():
    tasks = [Candidate(_sha(1), "memory://s/objects/00/a.tif", 0.4, width=1259, height=290),
             Candidate(_sha(2), "memory://s/objects/00/b.tif", 0.6, width=1259, height=290),
             Candidate(_sha(3), "memory://s/objects/00/c.tif", 0.5)]
    doc = json.loads(json.dumps(export_coco(tasks, {_sha(2): [Box(10, 20, 30, 40)]})))
    assert [im["sha256"] for im in doc["images"]] == [_sha(1), _sha(2), _sha(3)]
    assert doc["annotations"][0]["suggested"] and doc["categories"][0]["name"] == "concealment"
    doc["annotations"].append({"id": 9, "image_id": 2, "category_id": 1, "bbox": [11, 21, 31, 41]})
    doc["images"][2]["skipped"] = True
    labels = import_coco(doc, "officer-3", 9_000)
    assert [(lb.image_sha256, lb.verdict) for lb in labels] == [(_sha(1), "white"), (_sha(2), "black")]
    assert labels[1].boxes == (Box(11, 21, 31, 41),) and labels[1].source == "officer" and labels[1].cls == "concealment"


def test_metrics():
    y = np.array([0, 0, 0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.2, 0.3, 0.4, 0.8, 0.9])) == 1.0
    assert roc_auc(y, np.array([0.5] * 6)) == 0.5
    scores = np.r_[np.linspace(0, 0.5, 200), [0.95, 0.99, 0.3]]
    labels = np.r_[np.zeros(200), [1, 1, 1]]
    det, fa, _ = detection_at_fa(labels, scores, 0.01)
    assert det == 2 / 3 and fa <= 0.01
    result = evaluate_scores(labels, scores, ["none"] * 200 + ["wall", "wall", "floor"])
    assert result["per_kind"]["wall"]["detection_rate"] == 1.0 and result["per_kind"]["floor"]["detection_rate"] == 0.0


def test_logistic_and_active_learning_experiment_run():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = (x[:, 0] + 0.3 * rng.normal(size=300) > 1.0).astype(int)
    w = fit_logistic(x, y.astype(float))
    assert roc_auc(y, predict_logistic(w, x)) > 0.95
    result = experiment(x, y, seeds=2, start=10, step=10, rounds=5)
    assert len(result["runs"]) == 2 and len(result["runs"][0]["active_curve"]) == 6
