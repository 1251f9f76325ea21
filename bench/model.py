"""Model serving figures: scored declarations/s at batch sizes 1/100/1000, TreeSHAP cost ratio.

Run ``python -m zeikan.bench.model [HISTORY_DIR]``: trains a model on the history
(simulated on the fly when none is given), then prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time

from zeikan.features.batch import batch_features
from zeikan.features.history import load_history
from zeikan.features.names import FEATURE_NAMES
from zeikan.features.online import OnlineFeatureState
from zeikan.models.tabular import LightGBMScorer
from zeikan.models.training import train_tabular

BATCH_SIZES = (1, 100, 1000)


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


def _history_dir() -> str:
    if len(sys.argv) > 1:
        return sys.argv[1]
    from typer.testing import CliRunner

    from zeikan.streams.cli import app

    out = tempfile.mkdtemp(prefix="zeikan-bench-")
    CliRunner().invoke(app, ["simulate", "--out", out, "--days", "30", "--seed", "7", "--per-day", "300"])
    return out


def main() -> None:
    """Measure and print one JSON line of figures."""
    history = load_history(_history_dir())
    model = train_tabular(history)
    scorer = LightGBMScorer(model, "bench")
    decls = history.declarations
    feats = batch_features(decls, history.inspections)
    rows = [{n: r[n] for n in FEATURE_NAMES} for r in feats.iter_rows(named=True)][:5000]
    figures: dict[str, float] = {}
    for size in BATCH_SIZES:
        batches = [rows[i:i + size] for i in range(0, len(rows), size)][: max(1, 3000 // size)]
        start = time.perf_counter()
        for batch in batches:
            scorer.score_batch(decls[: len(batch)], batch)
        figures[f"scored_per_s_batch_{size}"] = _rate(sum(map(len, batches)), time.perf_counter() - start)
    sample = rows[:300]
    start = time.perf_counter()
    for row in sample:
        scorer.score_batch([decls[0]], [row])
    predict_one = (time.perf_counter() - start) / len(sample)
    start = time.perf_counter()
    for row in sample:
        scorer.explain(decls[0], row)
    explain_one = (time.perf_counter() - start) / len(sample)
    figures["treeshap_ms"] = round(1000 * explain_one, 3)
    figures["treeshap_cost_ratio_vs_predict_1"] = round(explain_one / predict_one, 2)
    figures["treeshap_cost_ratio_vs_batched_predict"] = round(explain_one * figures["scored_per_s_batch_1000"], 1)
    state = OnlineFeatureState()
    start = time.perf_counter()
    for d in decls:
        state.features(d)
        state.observe_declaration(d)
    figures["online_features_per_s"] = _rate(len(decls), time.perf_counter() - start)
    figures["trees"] = float(model.booster.num_trees())
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
