"""A scanner seen for the first time: the shipped image model on the second renderer (Kestrel-DX9), before and after adapting.

``python -m zeikan.bench.images_adapt [--clean 200] [--labelled 100] [--test 300] [--split test|tuning]`` renders
three sets through :mod:`zeikan.sim.xray_kestrel` (a polychromatic, physically different
renderer, never used in training), each written as Kestrel's vendor export and read back
through the ``kestrel-dx9`` profile, then prints JSON lines for each ``--model-dir``
(repeatable: several models on the same renders, each line names its ``model`` and ``split``).
Clean traffic is seed 501, the labelled scans 502; the scored set is the test split (seed 503,
scored once, never tuned on), a second test split (``test2``, seed 505) or the tuning split
(seed 504, where adaptation choices are made):

* ``images_adapt.in_domain`` (for each ``--heldout`` set of the first renderer): detection and
  false alarms at the engine's exam threshold and at 1 % false alarms, AUC;

* ``images_adapt.zero_shot``: the committed CNN, given each scan's declared goods (its
  manifest input, :mod:`zeikan.images.manifest`); threshold at 1 % false alarms from the
  scanner's own clean (released) traffic; detection and false alarms on the test set, AUC,
  detection per concealment kind, and the scoring cost (model input + ONNX, ms per scan,
  at the scorer's threads);
* ``images_adapt.onboarded``: the scanner onboarded from its clean traffic and the ``--labelled``
  scans (:func:`~zeikan.images.scanner_calibrations.onboard_scanner`: its ``input_gain`` from the
  clean traffic, ``mirror_average`` where the labelled scans show it catches more), every set
  scored again through the scorer that loaded that entry (:meth:`OnnxImageScorer.score_images`,
  the live path: input gain, and mirror averaging where the labelled scans chose it); threshold at 1 % false alarms from the gained clean traffic;
* ``images_adapt.adapted``: :class:`~zeikan.images.scanner_adaptation.ScannerAdapter`
  fitted on ``--labelled`` scans (half concealed) plus the clean traffic, both scored as onboarded
  (``rescored``: whether cross-validation kept features beyond the CNN score);
* ``images_adapt.visibility`` (``--visibility``): how many test concealments the physics hides
  (ideal-observer SNR under the Rose criterion; loads whose attenuation under the package is past
  the read-noise floor, photon-starved) and detection (zero shot, adapted) among the rest;
* ``images_adapt.physics``: share of the test set's clean scans the physics check flags,
  with the model's shipped calibration and after :func:`calibrate_physics` on the clean
  traffic (declared weights from the manifest, tare removed at ingest);
* ``images_adapt.post_scan``: the live POST_SCAN path (the scorer reading each test scan
  from an image store, then :func:`post_scan_decision` of a one-container join): share
  of clean scans sent to PHYSICAL_EXAM and of concealments caught, with the engine's one
  exam threshold and after onboarding the scanner from its clean traffic
  (:func:`~zeikan.images.scanner_calibrations.onboard_scanner`, table loaded by the scorer).
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from zeikan.bench.common import emit, timed
from zeikan.images.evaluation_metrics import roc_auc
from zeikan.images.manifest import manifest_inputs
from zeikan.images.physics import check
from zeikan.images.scanner_adaptation import ScannerAdapter, adaptation_features, threshold_from_clean
from zeikan.images.scanner_calibrations import LabelledScans, ScannerCalibrations, onboard_scanner, save_calibrations
from zeikan.images.store import open_store
from zeikan.images.scorer import DEFAULT_MODEL_DIR, ImageScorerSettings, OnnxImageScorer
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.post_scan import post_scan_decision
from zeikan.sim.xray_dataset import declared_items
from zeikan.images.profile import load_profile
from zeikan.sim.xray_kestrel import (PROFILE, ROSE_D_PRIME, SCANNER, PackageVisibility, package_visibility, read_noise_floor,
                                     render_kestrel_images)
from zeikan.sim.xray_loads import XrayLoad, random_loads

FALSE_ALARMS = 0.01
SPLITS = {"test": 503, "tuning": 504, "test2": 505}
"""seed of each scored split of Kestrel scans (test2: a second test split, rendered after the choices were made on tuning)"""


def _loads(n: int, seed: int, concealment_rate: float) -> list[XrayLoad]:
    return random_loads(n, seed, (SCANNER,), concealment_rate=concealment_rate, misdeclared_rate=0.0)


def _declared(loads: list[XrayLoad]) -> list[list[tuple[str, float]]]:
    return [declared_items(load) for load in loads]


def _rendered(loads: list[XrayLoad], cache: Path | None, workers: int) -> list:
    """(canonical image, concealed) per load, read from ``cache`` when an earlier run left it there."""
    if cache is not None and cache.exists():
        return pickle.loads(cache.read_bytes())
    rendered = render_kestrel_images(loads, workers=workers)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps(rendered))
    return rendered


def _by_kind(scores: np.ndarray, cut: float, kinds: np.ndarray) -> dict[str, float]:
    """Share of each concealment kind's scans scoring above ``cut``."""
    return {k: round(float((scores[kinds == k] > cut).mean()), 4) for k in sorted(set(kinds.tolist()) - {"none"})}


def _examined(settings: ImageScorerSettings, loads: list[XrayLoad], images: list) -> np.ndarray:
    """Whether POST_SCAN sends each scan's one-container declaration to PHYSICAL_EXAM (the live scorer and engine)."""
    store = open_store(settings.store_url)
    scans, declared = [], []
    for load, img in zip(loads, images):
        stored = store.put(img)
        scans.append({"scan_id": load.scan_id, "container_id": load.container_id, "scanner_id": SCANNER_ID,
                      "scanned_at": 2, "image_uri": stored.uri, "image_sha256": stored.sha256})
        declared.append([{"containers": [load.container_id],
                          "items": [{"hs_code": h, "gross_weight_kg": kg} for h, kg in _declared([load])[0]]}])
    scorer = OnnxImageScorer(settings)
    assessments = scorer.assess_batch(scans, declared)
    scorer.close()
    opened = {"declaration_id": "D", "office_id": "O", "filed_at": 1, "rule_floor": None, "rule_hits": [], "rules_score": 0.0,
              "tabular": 0.0, "random_selected": False, "versions": {}, "pre_decision_id": "P"}
    return np.array([post_scan_decision(opened, [s], [a], scorer.version, EngineConfig(), 3)["action"] == "PHYSICAL_EXAM"
                     for s, a in zip(scans, assessments)])


SCANNER_ID = "KDX9-01"
"""the new scanner's id on ScanCompleted records (its onboarded entry is keyed by it)"""


def _visibility_figures(visible: list[PackageVisibility], caught: np.ndarray) -> dict:
    """Concealments caught among those the physics leaves visible (``caught``: per concealed test scan)."""
    d = np.array([v.d_prime for v in visible])
    above_floor = np.array([v.load_attenuation for v in visible]) <= read_noise_floor(load_profile(PROFILE))
    return {"invisible_rose": int((d < ROSE_D_PRIME).sum()), "detection_rate_rose_visible": float(caught[d >= ROSE_D_PRIME].mean()),
            "photon_starved": int((~above_floor).sum()), "photon_starved_caught": int(caught[~above_floor].sum()),
            "detection_rate_above_read_noise": float(caught[above_floor].mean())}


def _scored(scorer: OnnxImageScorer, sets: dict, scanner_id: str = "") -> tuple[dict, dict]:
    """Per set: (CNN scores, adaptation features), inputs normalised for ``scanner_id`` as the live scorer does; and seconds per set."""
    scored, seconds = {}, {}
    for name, (loads, images, _) in sets.items():
        with timed() as took:
            scores, heatmaps = scorer.score_images(images, manifest_inputs(_declared(loads)), [scanner_id] * len(images))
        seconds[name] = took.seconds
        scored[name] = (scores, adaptation_features(scores, heatmaps, images))
    return scored, seconds


def _detection(scores: np.ndarray, y: np.ndarray, cut: float, kinds: np.ndarray) -> dict:
    """Detection and false alarms of test scores above ``cut``, AUC and detection per kind."""
    return {"roc_auc": roc_auc(y, scores), "threshold": cut, "detection_rate": float((scores[y] > cut).mean()),
            "false_alarm_rate": float((scores[~y] > cut).mean()), "detection_by_kind": _by_kind(scores, cut, kinds)}


def bench_model(model_dir: str, sets: dict, render_s: float, split: str, visible: list[PackageVisibility] | None = None,
                threads: int = ImageScorerSettings.threads) -> None:
    """Zero-shot, onboarded, adapted, POST_SCAN and physics figures of one image model on the rendered Kestrel sets.

    ``sets["test"]`` is the scored split (``split``: "test" or "tuning"). ``visible``: each concealed scored scan's
    :func:`package_visibility`; prints ``images_adapt.visibility``. ``threads``: the scorer's ONNX threads.
    """
    work = tempfile.TemporaryDirectory()
    plain = ImageScorerSettings(model_dir=model_dir, threads=threads, store_url=str(Path(work.name) / "store"),
                                scanners_url=str(Path(work.name) / "none.json"))
    onboarded = replace(plain, scanners_url=str(Path(work.name) / "scanners.json"))
    scorer = OnnxImageScorer(plain)
    scored, score_s = _scored(scorer, sets)
    base_physics = scorer.calibration
    version = scorer.version
    clean_loads, clean_images, _ = sets["clean"]
    lab_loads, lab_images, y_lab = sets["labelled"]
    entry = onboard_scanner(scorer, SCANNER_ID, clean_images, _declared(clean_loads), FALSE_ALARMS,
                            LabelledScans(lab_images, _declared(lab_loads), y_lab))
    adaptation = {"input_gain": list(entry.input_gain), "mirror_average": entry.mirror_average}
    save_calibrations(onboarded.scanners_url, ScannerCalibrations(scorer.model_version).with_entry(entry))
    scorer.close()

    y_test = sets["test"][2]
    test_kinds = np.array([load.concealment or "none" for load in sets["test"][0]])
    s_clean = scored["clean"][0]
    cut = threshold_from_clean(s_clean, FALSE_ALARMS)
    emit("images_adapt.zero_shot", scanner=SCANNER, model=version, split=split, clean_scans=len(s_clean), test_scans=len(y_test),
         test_concealed=int(y_test.sum()), **_detection(scored["test"][0], y_test, cut, test_kinds),
         median_clean_score=float(np.median(s_clean)), render_s=render_s, score_ms_per_scan=1000.0 * score_s["test"] / len(y_test))

    scorer = OnnxImageScorer(onboarded)
    gained, _ = _scored(scorer, sets, SCANNER_ID)
    scorer.close()
    g_clean, f_clean = gained["clean"]
    g_test, f_test = gained["test"]
    g_cut = threshold_from_clean(g_clean, FALSE_ALARMS)
    emit("images_adapt.onboarded", scanner=SCANNER, model=version, split=split, scanner_id=SCANNER_ID, **adaptation,
         clean_scans=len(g_clean), labelled_scans=len(y_lab), **_detection(g_test, y_test, g_cut, test_kinds))

    _, f_lab = gained["labelled"]
    adapter = ScannerAdapter.fit(f_lab, y_lab, f_clean, FALSE_ALARMS)
    a_test = adapter.score(f_test)
    emit("images_adapt.adapted", scanner=SCANNER, model=version, split=split, labelled_scans=len(y_lab), labelled_concealed=int(y_lab.sum()),
         clean_scans=len(g_clean), **adaptation, rescored=adapter.rescored,
         **_detection(a_test, y_test, adapter.threshold, test_kinds))

    if visible is not None:
        emit("images_adapt.visibility", scanner=SCANNER, model=version, split=split, concealed=len(visible), rose_d_prime=ROSE_D_PRIME,
             zero_shot=_visibility_figures(visible, scored["test"][0][y_test] > cut),
             onboarded=_visibility_figures(visible, g_test[y_test] > g_cut),
             adapted=_visibility_figures(visible, a_test[y_test] > adapter.threshold))

    test_loads, test_images, _ = sets["test"]
    clean_test = [i for i in range(len(test_images)) if not y_test[i]]
    declared = _declared(test_loads)

    def flagged(cal) -> float:
        return float(np.mean([check(test_images[i], declared[i], cal).score > 0 for i in clean_test]))

    before = _examined(plain, test_loads, test_images)
    after = _examined(onboarded, test_loads, test_images)
    work.cleanup()
    emit("images_adapt.post_scan", scanner=SCANNER, model=version, split=split, scanner_id=SCANNER_ID, clean_scans=len(clean_images),
         engine_threshold=EngineConfig().post_scan_exam_threshold, onboarded_threshold=entry.exam_threshold,
         **adaptation,
         false_alarm_rate_engine_threshold=float(before[~y_test].mean()), detection_rate_engine_threshold=float(before[y_test].mean()),
         false_alarm_rate_onboarded=float(after[~y_test].mean()), detection_rate_onboarded=float(after[y_test].mean()))

    net_from_manifest = [img.meta.declared_net_kg for img in clean_images]
    gross = [sum(kg for _, kg in d) for d in _declared(clean_loads)]
    emit("images_adapt.physics", scanner=SCANNER, model=version, split=split, clean_test_scans=len(clean_test),
         flagged_share_shipped_calibration=flagged(base_physics), flagged_share_after_calibration=flagged(entry.physics),
         manifest_net_kg_error=float(np.max(np.abs(np.array(net_from_manifest) - np.array(gross)))))


def bench_in_domain(model_dir: str, heldout: Path) -> None:
    """The model at the engine's exam threshold and at 1 % false alarms on a rendered set of the first renderer (.npz)."""
    from zeikan.images.dataset import RenderedSet
    from zeikan.images.evaluate import evaluate_set

    result = evaluate_set(RenderedSet.load(str(heldout)), ImageScorerSettings(model_dir=model_dir), EngineConfig().post_scan_exam_threshold)
    at_exam = result["at_exam_threshold"]
    emit("images_adapt.in_domain", model=result["model_version"], data=heldout.name, scanners=result["scanners"], n=result["n"],
         positives=result["positives"], engine_threshold=at_exam["threshold"], detection_rate_engine_threshold=at_exam["detection_rate"],
         false_alarm_rate_engine_threshold=at_exam["false_alarm_rate"], detection_rate=result["detection_rate"],
         false_alarm_rate=result["false_alarm_rate"], roc_auc=result["roc_auc"])


def main(argv: list[str] | None = None) -> None:
    """Render, score, adapt, print the figures of each model."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clean", type=int, default=200, help="clean released scans of the new scanner (unlabelled)")
    parser.add_argument("--labelled", type=int, default=100, help="labelled scans for few-shot adaptation (<= 100)")
    parser.add_argument("--test", type=int, default=300, help="scans of the scored split (half concealed)")
    parser.add_argument("--split", choices=tuple(SPLITS), default="test",
                        help="scored split: test (seed 503, report once), test2 (seed 505, a second test split) or tuning "
                             "(seed 504, choose adaptations there)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=ImageScorerSettings.threads, help="the scorer's ONNX threads")
    parser.add_argument("--model-dir", action="append", default=None,
                        help="image model to measure (repeat to measure several on the same renders; default: the committed one)")
    parser.add_argument("--heldout", type=Path, action="append", default=[],
                        help="also a rendered set of the first renderer (.npz, `zeikan images train --cache`): each model at the "
                             "engine's exam threshold there (repeatable)")
    parser.add_argument("--cache", type=Path, default=None, help="folder keeping the rendered sets between runs (pickles)")
    parser.add_argument("--visibility", action="store_true",
                        help="also how visible each test concealment is in the physics, and detection among the visible ones")
    args = parser.parse_args(argv)
    model_dirs = args.model_dir or [str(DEFAULT_MODEL_DIR)]
    for path in args.heldout:
        if not path.is_file():
            parser.error(f"--heldout {path}: no such rendered set")

    started = time.perf_counter()
    sets = {}
    for name, file_name, n, seed, rate in (("clean", "clean", args.clean, 501, 0.0), ("labelled", "labelled", args.labelled, 502, 0.5),
                                            ("test", args.split, args.test, SPLITS[args.split], 0.5)):
        loads = _loads(n, seed, rate)
        rendered = _rendered(loads, args.cache / f"kestrel-{file_name}-{n}-{seed}.pkl" if args.cache else None, args.workers)
        sets[name] = (loads, [img for img, _ in rendered], np.array([c for _, c in rendered], dtype=bool))
    render_s = time.perf_counter() - started
    test_loads, _, y_test = sets["test"]
    visible = [package_visibility(load) for load, c in zip(test_loads, y_test) if c] if args.visibility else None
    for model_dir in model_dirs:
        for path in args.heldout:
            bench_in_domain(model_dir, path)
        bench_model(model_dir, sets, render_s, args.split, visible, args.threads)


if __name__ == "__main__":
    main()
