"""Back-test at inspection rates: the risk model vs the raw-column baseline (and the oracle).

The history is cut ``test_days`` before its last filing. Both models train (same
labels, weights, split and LightGBM settings) on the declarations filed before the
cut, with the inspection results known before the cut. They rank every
declaration filed after the cut; selecting the top 1/2/5/10 % is what an office
with that inspection capacity would do.

Ground truth for the test window:

* with ``truth`` (the simulator's truth file): every test declaration is labelled
  by ``is_fraud`` and its ``revenue_at_risk`` — precision@k is then the share of
  frauds among the k selected out of *all* declarations, the figure that matters
  when comparing rankings. The oracle ranks by the truth file's ``fraud_posterior``,
  the generator's probability of fraud given the declaration with the prior of the
  true facts (``oracle_source: "posterior"``); older truth files have only
  ``fraud_probability``, the ex-ante prior (``"prior"``); without either, the
  perfect ranking (frauds first, larger revenue first, ``"labels"``). Where the
  truth file has ``fraud_posterior_observed`` (the probability given only what the
  declaration shows, :mod:`zeikan.sim.observed_posterior`) it is ranked too, as
  ``oracle_observed``. Recall at each rate is also given per fraud kind
  (``recall_by_kind``);
* without it: only the inspected test declarations, labelled by their outcome and
  ``revenue_recovered`` (biased toward what the targeting chose; indicative only).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from zeikan.features.batch import batch_features
from zeikan.features.history import History
from zeikan.features.names import FEATURE_NAMES
from zeikan.features.transforms import DAY_MS
from zeikan.models.baseline import CATEGORICAL, COLUMNS, raw_columns
from zeikan.models.training import TrainedModel, TrainSettings, fit, inspection_labels, labeled_features, weighted_auc

RATES: tuple[float, ...] = (0.01, 0.02, 0.05, 0.10)
"""Inspection rates the report gives figures at."""
CURVE_RATES: tuple[float, ...] = tuple(r / 200 for r in range(1, 41))
"""Rates of the precision@k curve in the chart (0.5 % .. 20 %)."""


@dataclass(frozen=True)
class Truth:
    """Labels and revenue of the test declarations, in test order."""

    label: np.ndarray
    revenue: np.ndarray
    source: str
    probability: np.ndarray | None = None
    """The oracle's fraud probability (truth files that carry one), else None."""
    probability_source: str = "labels"
    kinds: tuple[frozenset[str], ...] = ()
    """The fraud kinds of each test declaration (truth files only)."""
    observed: np.ndarray | None = None
    """P(fraud | what the declaration shows) (truth files that carry ``fraud_posterior_observed``), else None."""

    def oracle(self) -> tuple[np.ndarray, str]:
        """The oracle's scores and what they come from (``posterior``, ``prior`` or ``labels``)."""
        if self.probability is not None:
            return self.probability, self.probability_source
        return self.label + self.revenue / (1.0 + self.revenue.max()), "labels"


def at_rate(score: np.ndarray, truth: Truth, rate: float) -> dict[str, float]:
    """Precision, recall and revenue share captured when the top ``rate`` share is inspected."""
    k = max(1, math.ceil(rate * len(score)))
    top = np.argsort(-score, kind="stable")[:k]
    positives, revenue = truth.label.sum(), truth.revenue.sum()
    hits = truth.label[top].sum()
    figures: dict[str, Any] = {
        "k": float(k),
        "precision": float(hits / k),
        "recall": float(hits / positives) if positives else math.nan,
        "revenue_captured": float(truth.revenue[top].sum() / revenue) if revenue else math.nan,
    }
    if truth.kinds:
        selected = np.zeros(len(score), dtype=bool)
        selected[top] = True
        names = sorted(set().union(*truth.kinds))
        figures["recall_by_kind"] = {
            kind: float(np.mean([selected[i] for i, ks in enumerate(truth.kinds) if kind in ks])) for kind in names
        }
    return figures


def summarize(score: np.ndarray, truth: Truth) -> dict[str, Any]:
    """All figures of one ranking: AUC, figures at RATES and the precision curve."""
    return {
        "auc": weighted_auc(score, truth.label),
        "at": {f"{rate:.0%}": at_rate(score, truth, rate) for rate in RATES},
        "curve": [at_rate(score, truth, rate)["precision"] for rate in CURVE_RATES],
    }


def truth_for(history: History, test_ids: list[str]) -> tuple[Truth, np.ndarray]:
    """Truth for the test declarations, and the mask of those it labels."""
    if history.truth:
        rows = [history.truth.get(i, {}) for i in test_ids]
        label = np.array([float(bool(r.get("is_fraud", False))) for r in rows])
        revenue = np.array([float(r.get("revenue_at_risk", 0.0) or 0.0) for r in rows])
        kinds = tuple(frozenset(r.get("fraud_kinds", ())) for r in rows)
        observed = _column(rows, "fraud_posterior_observed")
        for field, source in (("fraud_posterior", "posterior"), ("fraud_probability", "prior")):
            probability = _column(rows, field)
            if probability is not None:
                return (Truth(label, revenue, "truth", probability, source, kinds, observed),
                        np.ones(len(test_ids), dtype=bool))
        return Truth(label, revenue, "truth", kinds=kinds, observed=observed), np.ones(len(test_ids), dtype=bool)
    labels = dict(inspection_labels(history.inspections).select("declaration_id", "label").iter_rows())
    recovered: dict[str, float] = {}
    for r in history.inspections:
        recovered[r["declaration_id"]] = recovered.get(r["declaration_id"], 0.0) + float(r["revenue_recovered"])
    mask = np.array([i in labels for i in test_ids], dtype=bool)
    kept = [i for i in test_ids if i in labels]
    return Truth(np.array([labels[i] for i in kept]), np.array([recovered.get(i, 0.0) for i in kept]),
                 "inspections"), mask


def _column(rows: list[dict[str, Any]], field: str) -> np.ndarray | None:
    """A truth field of every row as floats, or None when a row lacks it."""
    if rows and all(field in r for r in rows):
        return np.array([float(r[field]) for r in rows])
    return None


def evaluate_history(history: History, *, test_days: int = 14, settings: TrainSettings | None = None) -> dict[str, Any]:
    """Train both models before the cut, rank the test window, and return the report."""
    settings = settings or TrainSettings()
    feats, labeled = _split_features(history, test_days)
    cut = int(feats["filed_at"].max()) - test_days * DAY_MS
    raw = raw_columns(history.declarations)
    return _report(*_fit_both(labeled, raw, settings), history, feats, raw, cut, test_days)


def evaluate_transfer(train: History, test: History, *, test_days: int = 14,
                      settings: TrainSettings | None = None) -> dict[str, Any]:
    """Train both models on every label of ``train`` (one world); rank the last ``test_days`` of ``test`` (another)."""
    settings = settings or TrainSettings()
    _, labeled = labeled_features(train)
    raw = raw_columns([*train.declarations, *test.declarations])
    feats = batch_features(test.declarations, test.inspections)
    cut = int(feats["filed_at"].max()) - test_days * DAY_MS
    return _report(*_fit_both(labeled, raw, settings), test, feats, raw, cut, test_days)


def _fit_both(labeled: pl.DataFrame, raw: pl.DataFrame, settings: TrainSettings) -> tuple[TrainedModel, TrainedModel]:
    """The risk model and the raw-column baseline, trained on the same labels, weights and split."""
    model = fit(labeled, list(FEATURE_NAMES), settings)
    raw_labeled = raw.join(labeled.select("declaration_id", "label", "random", "weight", "kinds"), on="declaration_id", how="inner")
    return model, fit(raw_labeled, list(COLUMNS), settings, categorical=CATEGORICAL)


def _report(model: TrainedModel, baseline: TrainedModel, history: History, feats: pl.DataFrame, raw: pl.DataFrame,
            cut: int, test_days: int) -> dict[str, Any]:
    """Rank the declarations of ``feats`` filed from ``cut`` on with both models (and the oracle)."""
    test = feats.filter(pl.col("filed_at") >= cut)
    test_ids = test["declaration_id"].to_list()
    truth, mask = truth_for(history, test_ids)
    raw_test = pl.DataFrame({"declaration_id": test_ids}).join(raw, on="declaration_id", how="left")
    scores = {
        "risk_model": model.predict(test.select(FEATURE_NAMES).to_numpy())[mask],
        "raw_baseline": baseline.predict(raw_test.select(COLUMNS).to_numpy())[mask],
    }
    oracle_source = None
    if truth.source == "truth":
        scores["oracle"], oracle_source = truth.oracle()
        if truth.observed is not None:
            scores["oracle_observed"] = truth.observed
    rankings = {name: summarize(score, truth) for name, score in scores.items()}
    p5 = {name: r["at"]["5%"]["precision"] for name, r in rankings.items()}
    return {
        "label_source": truth.source,
        "oracle_source": oracle_source,
        "cut": cut,
        "test_days": test_days,
        "test_declarations": int(mask.sum()),
        "test_positives": float(truth.label.sum()),
        "train": {"risk_model": model.metrics, "raw_baseline": baseline.metrics},
        "rankings": rankings,
        "p5_ratio_to_oracle": p5["risk_model"] / p5["oracle"] if p5.get("oracle") else None,
        "p5_ratio_to_oracle_observed": p5["risk_model"] / p5["oracle_observed"] if p5.get("oracle_observed") else None,
        "p5_ratio_to_baseline": p5["risk_model"] / p5["raw_baseline"] if p5["raw_baseline"] else None,
    }


def _split_features(history: History, test_days: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    last = max(int(d["filed_at"]) for d in history.declarations)
    return labeled_features(history, before=last - test_days * DAY_MS)


def write_report(report: Mapping[str, Any], path: str) -> None:
    """The report as indented JSON (NaN written as null)."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(_finite(report), handle, indent=2)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_chart(report: Mapping[str, Any], path: str) -> None:
    """Precision@k curves of every ranking as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    x = [100 * r for r in CURVE_RATES]
    for name, ranking in report["rankings"].items():
        ax.plot(x, ranking["curve"], label=f"{name} (AUC {ranking['auc']:.3f})")
    for rate in RATES:
        ax.axvline(100 * rate, color="grey", linewidth=0.5, linestyle=":")
    ax.set_xlabel("inspection rate (% of declarations, top-ranked)")
    ax.set_ylabel(f"precision ({report['label_source']} labels)")
    ax.set_title(f"precision@k on the last {report['test_days']} days")
    ax.set_ylim(0, 1.02)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
