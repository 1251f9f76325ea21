"""Training, registry, scoring, explanations and evaluation on a small simulated history."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from zeikan.features.batch import batch_features
from zeikan.features.errors import HistoryNotFoundError, TooManyRejectedError
from zeikan.features.history import load_history
from zeikan.features.names import FEATURE_NAMES
from zeikan.models.base import TabularScorer
from zeikan.models.errors import NoLiveModelError
from zeikan.models.evaluation import Truth, at_rate
from zeikan.models.registry import ModelRegistry
from zeikan.models.tabular import LightGBMScorer
from zeikan.models.propensity import PropensitySettings, random_floor, selection_weights
from zeikan.models.training import TrainSettings, platt, train_tabular
from zeikan.cli.main import app
from zeikan.models.drift import DriftMonitor

from model_history import write_history

runner = CliRunner()
FAST = TrainSettings(num_boost_round=40, early_stopping_rounds=10)


@pytest.fixture(scope="module")
def history_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_history(tmp_path_factory.mktemp("history"))


@pytest.fixture(autouse=True)
def few_trees(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEIKAN_TRAIN_NUM_BOOST_ROUND", "40")
    monkeypatch.setenv("ZEIKAN_TRAIN_EARLY_STOPPING_ROUNDS", "10")


def test_train_cli_registers_a_live_model_that_scores_and_explains(history_dir: Path, tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    result = runner.invoke(app, ["train", "--history", str(history_dir), "--registry", str(registry)])
    assert result.exit_code == 0, result.output
    version = json.loads(result.output)["version"]
    reg = ModelRegistry(str(registry))
    assert reg.live_version() == version
    info = reg.info(version)
    assert info.features == list(FEATURE_NAMES) and info.data_hash and info.window["from"] < info.window["to"]

    scorer = LightGBMScorer.from_registry(reg)
    assert isinstance(scorer, TabularScorer) and scorer.version == version
    events = load_history(str(history_dir))
    feats = batch_features(events.declarations[-200:], [])
    rows = [{n: r[n] for n in FEATURE_NAMES} for r in feats.iter_rows(named=True)]
    decls = {d["declaration_id"]: d for d in events.declarations}
    scores = scorer.score_batch([decls[i] for i in feats["declaration_id"]], rows)
    assert len(scores) == 200 and all(0.0 < s < 1.0 for s in scores)
    top = int(np.argmax(scores))
    why = scorer.explain(decls[feats["declaration_id"][top]], rows[top])
    assert set(why.contributions) == set(FEATURE_NAMES)
    assert why.reasons and all(isinstance(r, str) and r for r in why.reasons)


def test_an_empty_registry_has_no_live_model(tmp_path: Path) -> None:
    with pytest.raises(NoLiveModelError):
        ModelRegistry(str(tmp_path / "reg")).load_live()


def test_training_stores_the_feature_distribution_for_drift(history_dir: Path, tmp_path: Path) -> None:
    events = load_history(str(history_dir))
    reg = ModelRegistry(str(tmp_path / "reg"))
    version = reg.register(train_tabular(events, FAST), events.data_hash).version
    stored = json.loads((tmp_path / "reg" / version / "metadata.json").read_text())["feature_bins"]
    assert set(stored) == set(FEATURE_NAMES)
    for bins in stored.values():
        assert len(bins["fractions"]) == len(bins["edges"]) + 1 and sum(bins["fractions"]) == pytest.approx(1.0)
    assert reg.load(version)[1].feature_bins == stored == reg.info(version).feature_bins
    feats = batch_features(events.declarations, events.inspections)
    monitor = DriftMonitor.from_metadata(json.loads((tmp_path / "reg" / version / "metadata.json").read_text()), len(feats))
    monitor.observe(feats.select(FEATURE_NAMES).iter_rows(named=True))
    assert monitor.version == version
    assert max(monitor.psi_by_feature().values()) < 0.01, "the training declarations themselves show no drift"


def test_metadata_without_feature_bins_still_loads(history_dir: Path, tmp_path: Path) -> None:
    events = load_history(str(history_dir))
    reg = ModelRegistry(str(tmp_path / "reg"))
    version = reg.register(train_tabular(events, FAST), events.data_hash).version
    meta = tmp_path / "reg" / version / "metadata.json"
    old = {k: v for k, v in json.loads(meta.read_text()).items() if k != "feature_bins"}
    meta.write_text(json.dumps(old))
    assert reg.info(version).feature_bins == {} and reg.load(version)[1].feature_bins == {}


def test_bad_history_is_a_zeikan_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", "--history", str(tmp_path / "missing")])
    assert isinstance(result.exception, HistoryNotFoundError)


def test_evaluate_writes_report_and_chart(history_dir: Path, tmp_path: Path) -> None:
    report, chart = tmp_path / "r.json", tmp_path / "c.png"
    result = runner.invoke(app, ["evaluate", "--history", str(history_dir), "--truth", "--test-days", "7",
                                 "--report", str(report), "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert data["label_source"] == "truth"
    assert set(data["rankings"]) == {"risk_model", "raw_baseline", "oracle"}
    assert data["oracle_source"] == "labels"  # this truth file has no fraud_probability
    assert data["rankings"]["oracle"]["auc"] == 1.0
    assert data["rankings"]["risk_model"]["auc"] > 0.8  # the planted undervaluation is learnt
    assert set(data["rankings"]["risk_model"]["at"]) == {"1%", "2%", "5%", "10%"}
    assert chart.read_bytes()[:4] == b"\x89PNG"


def test_recall_is_given_per_fraud_kind() -> None:
    label = np.array([1.0, 1.0, 0.0, 1.0])
    kinds = (frozenset({"QUANTITY"}), frozenset({"ORIGIN"}), frozenset(), frozenset({"ORIGIN", "WEIGHT"}))
    truth = Truth(label, np.zeros(4), "truth", kinds=kinds)
    by_kind = at_rate(np.array([0.9, 0.1, 0.2, 0.8]), truth, 0.5)["recall_by_kind"]
    assert by_kind == {"ORIGIN": 0.5, "QUANTITY": 1.0, "WEIGHT": 1.0}


def test_oracle_ranks_by_fraud_probability_when_known() -> None:
    label, revenue = np.array([1.0, 0.0, 0.0, 1.0]), np.array([5.0, 0.0, 0.0, 9.0])
    scores, source = Truth(label, revenue, "truth", np.array([0.2, 0.6, 0.1, 0.3]), "posterior").oracle()
    assert source == "posterior"
    assert at_rate(scores, Truth(label, revenue, "truth"), 0.5)["precision"] == 0.5  # latent p, not the draw
    scores, source = Truth(label, revenue, "truth").oracle()
    assert source == "labels"
    assert list(np.argsort(-scores)) == [3, 0, 1, 2]


def test_at_rate_counts_the_top_share() -> None:
    truth = Truth(np.array([1.0, 0.0, 1.0, 0.0]), np.array([10.0, 0.0, 30.0, 0.0]), "truth")
    got = at_rate(np.array([0.9, 0.8, 0.1, 0.2]), truth, 0.5)
    assert got == {"k": 2.0, "precision": 0.5, "recall": 0.5, "revenue_captured": 0.25}


def _targeted_world(n: int = 40_000, random_from: int = 0) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray]:
    """A population where x drives both the finding rate and the targeting; 2 % random controls.

    Random flags exist only for declarations filed from ``random_from`` on (older ones read false).
    """
    rng = np.random.default_rng(1)
    x = rng.random(n)
    label = (rng.random(n) < 0.02 + 0.4 * x**3).astype(float)
    targeted = x + rng.normal(0, 0.05, n) > 0.85
    random = ~targeted & (rng.random(n) < 0.02)
    filed = np.arange(n, dtype=np.int64)
    ids = [f"D{i}" for i in range(n)]
    feats = pl.DataFrame({"declaration_id": ids, "filed_at": filed, "x": x})
    inspected = targeted | random
    labels = pl.DataFrame({"declaration_id": [i for i, k in zip(ids, inspected) if k],
                           "label": label[inspected], "random": (random & (filed >= random_from))[inspected]})
    return feats, labels, label


@pytest.mark.parametrize("random_from", [0, 20_000])
def test_inverse_propensity_weights_recover_the_population_rate(random_from: int) -> None:
    feats, labels, label = _targeted_world(random_from=random_from)
    since = random_from if random_from else 0
    weights = selection_weights(feats, labels, ["x"], since).join(labels, on="declaration_id")
    naive = float(labels["label"].mean())
    corrected = float((weights["weight"] * weights["label"]).sum() / weights["weight"].sum())
    truth = float(label.mean())
    assert abs(corrected - truth) < 0.4 * abs(naive - truth)


def test_without_random_controls_the_floor_is_the_default() -> None:
    filed = np.arange(10)
    inspected = np.array([True] * 3 + [False] * 7)
    assert random_floor(filed, inspected, np.zeros(10, dtype=bool), None) == PropensitySettings().default_floor
    random = np.array([False, False, True] + [False] * 7)
    assert random_floor(filed, inspected, random, 0) == pytest.approx(1 / 8)


def test_platt_recovers_a_known_calibration() -> None:
    rng = np.random.default_rng(0)
    margin = rng.normal(size=20000)
    label = (rng.random(20000) < 1 / (1 + np.exp(-(0.5 * margin - 1.0)))).astype(float)
    cal = platt(margin, label, np.ones_like(margin))
    assert abs(cal.a - 0.5) < 0.08 and abs(cal.b + 1.0) < 0.08


# -- no silent drops ------------------------------------------------------------------------------


def _strip_field(path: Path, field: str, every: int) -> int:
    """Remove ``field`` from every ``every``-th line of a JSON Lines file; returns how many lines changed."""
    lines = path.read_text().splitlines()
    changed = 0
    for i in range(0, len(lines), every):
        record = json.loads(lines[i])
        del record[field]
        lines[i] = json.dumps(record)
        changed += 1
    path.write_text("\n".join(lines) + "\n")
    return changed


@pytest.fixture()
def small_history(tmp_path: Path) -> Path:
    return write_history(tmp_path / "history", days=20, per_day=40)


def test_rejected_lines_are_counted_by_field(small_history: Path) -> None:
    stripped = _strip_field(small_history / "declarations.jsonl", "importer_id", every=50)
    history = load_history(str(small_history))
    report = history.rejections.report()
    assert report["rejected"] == {"declarations.jsonl": stripped}
    assert report["lines"]["declarations.jsonl"] == len(history.declarations) + stripped
    top = report["top_reasons"][0]
    assert "importer_id" in top["reason"] and top["lines"] == stripped
    assert history.skipped_lines == stripped


def test_too_many_rejected_lines_stop_with_the_field(small_history: Path) -> None:
    lines = len((small_history / "inspection-results.jsonl").read_text().splitlines())
    _strip_field(small_history / "inspection-results.jsonl", "inspection_id", every=1)
    with pytest.raises(TooManyRejectedError, match="inspection_id"):
        load_history(str(small_history))
    zeikan = str(Path(sys.executable).parent / "zeikan")
    result = subprocess.run([zeikan, "train", "--history", str(small_history), "--registry", str(small_history / "reg")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert f"{lines} of {lines} lines of inspection-results.jsonl rejected" in message and "inspection_id" in message


def test_train_reports_the_rejected_lines(small_history: Path) -> None:
    stripped = _strip_field(small_history / "inspection-results.jsonl", "outcome", every=40)
    result = runner.invoke(app, ["train", "--history", str(small_history), "--registry", str(small_history / "reg")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)["input"]
    assert report["rejected"] == {"inspection-results.jsonl": stripped}
    assert report["top_reasons"][0]["reason"].startswith("inspection-results.jsonl: outcome")
