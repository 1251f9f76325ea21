"""Model figures: quality at inspection rates, scoring throughput, TreeSHAP cost, online feature rate.

Run ``python -m zeikan.bench.model [HISTORY_DIR]``. Without a directory it simulates
60 days x 500 declarations/day (seed 1, no images) into a temporary directory. Prints
JSON lines (numbers, not assertions):

* ``model_quality`` — the back-test of ``zeikan evaluate --truth``: train on all but the
  last 14 days, precision@1/2/5/10 % and AUC of the risk model, the raw-column
  baseline and the oracle (latent fraud probability) on the last 14 days, against
  the truth labels of every test declaration;
* ``model`` — scored declarations/s at batch sizes 1/100/1000 (features given),
  TreeSHAP (``pred_contrib``) cost per declaration and its ratio to a single-row
  and a batched predict, and the online feature rate (``observe`` + ``features``
  per declaration, inspections interleaved by time, as the stream does it).

The loaded history is frozen out of the garbage collector before the online
measurement (``gc.freeze()``): a worker never holds the whole history, so its
collection cost is not part of the per-event cost.
"""

from __future__ import annotations

import gc
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from zeikan.bench.common import emit, timed
from zeikan.features.batch import batch_features
from zeikan.features.history import History, load_history
from zeikan.features.names import FEATURE_NAMES
from zeikan.features.online import OnlineFeatureState
from zeikan.models.evaluation import RATES, evaluate_history
from zeikan.models.tabular import LightGBMScorer
from zeikan.models.training import train_tabular

BATCH_SIZES = (1, 100, 1000)
SIM_DAYS, SIM_PER_DAY, SIM_SEED = 60, 500, 1
"""The history simulated when none is given."""
TEST_DAYS = 14


def _history_dir() -> str:
    if len(sys.argv) > 1:
        return sys.argv[1]
    from zeikan.sim.settings import SimSettings
    from zeikan.sim.simulate import simulate

    out = Path(tempfile.mkdtemp(prefix="zeikan-bench-model-"))
    simulate(SimSettings(seed=SIM_SEED, days=SIM_DAYS, per_day=SIM_PER_DAY), out)
    return str(out)


def quality(history: History) -> dict[str, Any]:
    """Precision@k / AUC of each ranking on the last TEST_DAYS days (see ``zeikan evaluate``)."""
    with timed() as took:
        report = evaluate_history(history, test_days=TEST_DAYS)
    figures: dict[str, Any] = {
        "declarations": len(history.declarations), "test_declarations": report["test_declarations"],
        "test_positives": report["test_positives"], "label_source": report["label_source"],
        "oracle_source": report["oracle_source"],
    }
    for name, ranking in report["rankings"].items():
        figures[f"{name}_auc"] = ranking["auc"]
        for rate in RATES:
            figures[f"{name}_precision_at_{rate:.0%}"] = ranking["at"][f"{rate:.0%}"]["precision"]
    figures["p5_ratio_to_oracle"] = report["p5_ratio_to_oracle"]
    figures["p5_ratio_to_baseline"] = report["p5_ratio_to_baseline"]
    figures["evaluate_seconds"] = took.seconds
    return figures


def serving(history: History) -> dict[str, Any]:
    """Batch scoring rates, TreeSHAP cost, online feature rate."""
    model = train_tabular(history)
    scorer = LightGBMScorer(model, "bench")
    decls = history.declarations
    feats = batch_features(decls, history.inspections)
    rows = [{n: r[n] for n in FEATURE_NAMES} for r in feats.iter_rows(named=True)][:5000]
    figures: dict[str, Any] = {"trees": model.booster.num_trees()}
    for size in BATCH_SIZES:
        batches = [rows[i:i + size] for i in range(0, len(rows), size)][: max(1, 3000 // size)]
        with timed() as took:
            for batch in batches:
                scorer.score_batch(decls[: len(batch)], batch)
        figures[f"scored_per_s_batch_{size}"] = took.rate(sum(map(len, batches)))
    sample = rows[:300]
    with timed() as predict:
        for row in sample:
            scorer.score_batch([decls[0]], [row])
    with timed() as explain:
        for row in sample:
            scorer.explain(decls[0], row)
    figures["treeshap_ms"] = 1000 * explain.seconds / len(sample)
    figures["treeshap_cost_ratio_vs_predict_1"] = explain.seconds / predict.seconds
    figures["treeshap_cost_ratio_vs_batched_predict"] = (
        explain.seconds / len(sample) * figures["scored_per_s_batch_1000"]
    )
    figures["online_features_per_s"] = online_rate(history)
    return figures


def online_rate(history: History) -> float:
    """Declarations/s through ``features`` + ``observe_declaration``, inspections observed in time order."""
    events = sorted(
        [(int(d["filed_at"]), 0, d) for d in history.declarations]
        + [(int(r["inspected_at"]), 1, r) for r in history.inspections],
        key=lambda e: (e[0], e[1]),
    )
    gc.collect()
    gc.freeze()
    state = OnlineFeatureState()
    started = time.perf_counter()
    for _, kind, event in events:
        if kind == 0:
            state.features(event)
            state.observe_declaration(event)
        else:
            state.observe_inspection(event)
    seconds = time.perf_counter() - started
    gc.unfreeze()
    return len(history.declarations) / seconds


def main() -> None:
    """Measure and print the JSON lines."""
    history = load_history(_history_dir(), with_truth=True)
    emit("model_quality", **quality(history))
    emit("model", **serving(history))


if __name__ == "__main__":
    main()
