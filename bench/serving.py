"""Serving benchmark: scored declarations/s in the stream with the LightGBM model vs the heuristic,
as ratios to a no-op Faust agent over the same backlog, and the TreeSHAP cost per selected declaration.

A model is trained on a simulated history (as ``zeikan run`` does on a first start)
and promoted in a temporary registry; a simulated day of ``--backlog`` declarations
is the backlog. Each stream figure is one real ``zeikan worker`` draining the backlog
on its own embedded broker (first to last ``decided_at``); the no-op agent drains
the same backlog (``bench/pipeline.py``'s measurement). In-process figures: the
decision engine (features + score + lanes, no Kafka) per scorer, ``score_batch`` per
declaration in batches of 500, and ``explain`` (TreeSHAP) per selected declaration.

Run ``python -m zeikan.bench.serving [--backlog N]``; prints one JSON line.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from zeikan.bench.common import emit, registry_env, simulated_history, timed, trained_registry
from zeikan.bench.pipeline import noop_rate, pipeline_rate
from zeikan.models.base import TabularScorer
from zeikan.models.heuristic import HeuristicTabularScorer
from zeikan.models.tabular import LightGBMScorer
from zeikan.schemas.codec import codec_for
from zeikan.streams.kafka.broker import EmbeddedBroker
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.core import DecisionEngine
from zeikan.streams.engine.shared_state import SharedState
from zeikan.streams.engine.lanes import Action
from zeikan.streams.engine.rules import RuleFile
from zeikan.streams.kafka.kafka_io import publish, record_key
from zeikan.streams.engine.replay import History, timeline
from zeikan.streams.settings import DEFAULT_RULES

BATCH = 500
REPEATS = 2


def _engine(scorer: TabularScorer) -> DecisionEngine:
    return DecisionEngine(SharedState(EngineConfig()), scorer, lambda: RuleFile(DEFAULT_RULES).book)


def _decide_all(engine: DecisionEngine, declarations: Sequence[dict[str, Any]]) -> list[Any]:
    """Every declaration decided epoch by epoch (the offline protocol)."""
    epochs = timeline(History(declarations=list(declarations)), engine.state.epoch_ms)
    return [v for epoch, decls, _, _ in epochs for v in engine.run_epoch(epoch, decls)]


def in_process(scorer: LightGBMScorer, declarations: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Engine rates (heuristic vs model), score_batch cost and TreeSHAP cost per selected declaration."""
    figures: dict[str, float] = {}
    for _ in range(REPEATS):  # alternate the scorers, keep the best run of each (the machine is shared)
        for name, candidate in (("heuristic", HeuristicTabularScorer()), ("lgbm", scorer)):
            engine = _engine(candidate)
            with timed() as t:
                verdicts = _decide_all(engine, declarations)
            key = f"engine_{name}_decl_per_s"
            figures[key] = max(figures.get(key, 0.0), t.rate(len(verdicts)))
    rows = [v.features for v in verdicts]
    with timed() as t:
        for i in range(0, len(rows), BATCH):
            scorer.score_batch([v.declaration for v in verdicts[i : i + BATCH]], rows[i : i + BATCH])
    figures["score_us_per_decl_batch500"] = t.seconds / len(rows) * 1e6
    selected = [v for v in verdicts if v.action is not Action.RELEASE]
    with timed() as t:
        for v in selected:
            scorer.explain(v.declaration, v.features)
    figures["treeshap_ms_per_selected"] = t.seconds / max(1, len(selected)) * 1e3
    figures["selected_share"] = len(selected) / len(verdicts)
    figures["treeshap_to_score_cost_ratio"] = figures["treeshap_ms_per_selected"] * 1e3 / figures["score_us_per_decl_batch500"]
    return figures


def stream_rate(declarations: Sequence[dict[str, Any]], registry: str, workdir: Path, with_noop: bool) -> tuple[float, float | None]:
    """(declarations/s of one worker serving ``registry``, no-op agent events/s) on a fresh broker."""
    workdir.mkdir(parents=True, exist_ok=True)
    codec = codec_for("declarations")
    backlog = [("declarations", codec.encode(d), record_key("declarations", d)) for d in declarations]
    with EmbeddedBroker(port=0, log_path=workdir / "tansu.log") as broker:
        publish(broker.bootstrap, backlog)
        noop = noop_rate(broker.bootstrap, len(backlog), workdir) if with_noop else None
        with registry_env(registry):
            rate = pipeline_rate(broker.bootstrap, len(backlog), workdir)
    return rate, noop


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train, measure in process and in the stream; print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=20_000, help="declarations in the stream backlog")
    parser.add_argument("--train-days", type=int, default=30)
    parser.add_argument("--train-per-day", type=int, default=500)
    args = parser.parse_args(argv)
    with TemporaryDirectory() as tmp:
        root = Path(tmp)
        with timed() as train:
            registry, info = trained_registry(root / "train", args.train_days, args.train_per_day, seed=1)
        day = sorted(simulated_history(root / "day", 2, 1, args.backlog).declarations, key=lambda d: d["filed_at"])
        figures = in_process(LightGBMScorer.from_registry(registry), day)
        heuristic, noop = stream_rate(day, str(root / "empty-registry"), root / "heuristic", with_noop=True)
        model, _ = stream_rate(day, registry.url, root / "lgbm", with_noop=False)
    assert noop is not None
    return emit(
        "serving",
        model_version=info.version,
        model_trees=int(info.metrics.get("best_iteration", 0)),
        train_seconds=train.seconds,
        backlog=len(day),
        noop_faust_events_per_s=noop,
        stream_heuristic_decl_per_s=heuristic,
        stream_lgbm_decl_per_s=model,
        stream_heuristic_ratio_to_noop=heuristic / noop,
        stream_lgbm_ratio_to_noop=model / noop,
        stream_lgbm_to_heuristic=model / heuristic,
        **figures,
    )


if __name__ == "__main__":
    main()
