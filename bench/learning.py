"""Continuous-learning figures: P@5 % under a drift with and without retraining; training time and buffer memory.

``python -m zeikan.bench.learning drift`` replays a world with a drift at a random day
(the held-out ``heldout_drift`` variant, or ``drift VARIANT`` for another one of
``sim/variants.py``) twice with ``zeikan replay``'s own code and settings (``ZEIKAN_LEARN_*``, ``ZEIKAN_TRAIN_*``) (:func:`zeikan.streams.replay.replay`):
with continuous learning and without, both starting from one base model that
``zeikan train`` would register on the days before DRIFT_BASE_DAYS. Printed
(``drift_promotion`` per boundary with a candidate, then ``continuous_learning_drift``):
P@5 % of the PRE_ARRIVAL risk scores (and of the tabular scores alone) over the last
third of the days after DRIFT_BASE_DAYS, with retraining and without, both oracles', and
their ratios; P@5 % of both per block of DRIFT_BLOCK_DAYS days; the promotions.

Run ``python -m zeikan.bench.learning [HISTORY_DIR]`` for the cost figures. Without a directory it simulates
SIM_DAYS x SIM_PER_DAY declarations (seed 1, no images). The learner runs exactly as
``zeikan replay --learning`` runs it (:func:`zeikan.streams.engine.learner.with_promotions`
over the hourly timeline, default ``LearningSettings`` and ``ZEIKAN_TRAIN_*``) without the
decision engine. Prints JSON lines (numbers, not assertions):

* ``learning_boundary`` — per boundary: seconds to decode the window and train and
  compare the candidate, events in the window, events and Avro MB buffered, outcome;
* ``learning_buffer`` — the buffer at its largest: Avro bytes per declaration and per
  inspection result, against the decoded records' Python memory (tracemalloc) per
  declaration, and their ratio; the seconds spent buffering (Avro encoding) per event.
"""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

from zeikan.bench.common import emit, timed
from zeikan.features.history import History, load_history
from zeikan.models.evaluation import Truth, at_rate, truth_for
from zeikan.models.registry import ModelRegistry
from zeikan.models.training import TrainSettings, train_tabular
from zeikan.sim.settings import SimSettings
from zeikan.sim.simulate import simulate
from zeikan.sim.variants import HELD_OUT, TUNING, variant
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.promotions import DAY_MS
from zeikan.streams.engine.rules import RuleFile
from zeikan.streams.replay import replay
from zeikan.streams.settings import DEFAULT_RULES
from zeikan.models.heuristic import HeuristicTabularScorer
from zeikan.schemas.codec import codec_for
from zeikan.streams.engine.learner import Learner, TrainingBuffer, Window, with_promotions
from zeikan.streams.engine.promotions import PromotionBook
from zeikan.streams.engine.replay import read_history, timeline
from zeikan.streams.settings import LearningSettings

SIM_DAYS, SIM_PER_DAY = 30, 2000
HOUR_MS = 3_600_000


def _history_dir() -> Path:
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    out = Path(tempfile.mkdtemp(prefix="zeikan-bench-learning-"))
    simulate(SimSettings(seed=1, days=SIM_DAYS, per_day=SIM_PER_DAY), out)
    return out


def _decoded_bytes_per_declaration(window: Window, n: int = 2000) -> float:
    """Python memory of ``n`` decoded declarations of ``window``, per declaration (tracemalloc)."""
    codec = codec_for("declarations")
    raws = [raw for _, raw in window.declarations[:n]]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    records = [codec.decode(raw) for raw in raws]
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / max(1, len(records))


def main() -> None:
    """Run the learner over a history and print the figures."""
    history = read_history(_history_dir())
    learning = LearningSettings(enabled=True)
    learner = Learner(learning.continuous(), PromotionBook(learning.schedule(), "heuristic-1"))
    largest: dict[str, Any] = {"events": 0}
    champion: list[Any] = [HeuristicTabularScorer()]

    def decide(window: Window) -> dict[str, Any]:
        started = time.perf_counter()
        record, step = learner.decide(window, champion[0])
        seconds = time.perf_counter() - started
        if step is not None and step.decision.promoted:
            champion[0] = step.candidate
        decls, insps = learner.buffer.counts()
        emit("learning_boundary", day=window.boundary // 86_400_000, seconds=seconds,
             train_declarations=record["train_declarations"], train_inspections=record["train_inspections"],
             buffered_declarations=decls, buffered_inspections=insps, buffer_mb=learner.buffer.nbytes() / 2**20,
             candidate=record["candidate"], promoted=record["promoted"], reason=record["reason"])
        if decls + insps > largest["events"]:
            largest.update(events=decls + insps, decls=decls, insps=insps, window=window,
                           nbytes=learner.buffer.nbytes())
        return record

    total = time.perf_counter()
    for _ in with_promotions(timeline(history, HOUR_MS), learner, HOUR_MS, decide):
        pass
    total = time.perf_counter() - total
    buffering = time.perf_counter()
    buffer = TrainingBuffer()
    for record in history.declarations:
        buffer.add("declaration", record)
    for record in history.inspections:
        buffer.add("inspection", record)
    buffering = time.perf_counter() - buffering
    window = largest["window"]
    insp_bytes = sum(len(raw) for _, raw in window.inspections) / max(1, len(window.inspections))
    decl_bytes = sum(len(raw) for _, raw in window.declarations) / max(1, len(window.declarations))
    decoded = _decoded_bytes_per_declaration(window)
    events = len(history.declarations) + len(history.inspections)
    emit("learning_buffer", declarations=largest["decls"], inspections=largest["insps"],
         buffer_mb=largest["nbytes"] / 2**20, avro_bytes_per_declaration=decl_bytes,
         avro_bytes_per_inspection=insp_bytes, decoded_bytes_per_declaration=decoded,
         decoded_over_avro=decoded / decl_bytes, events=events, total_seconds=total,
         buffering_us_per_event=buffering / max(1, events) * 1e6)


DRIFT_DAYS, DRIFT_PER_DAY, DRIFT_BASE_DAYS, DRIFT_BLOCK_DAYS = 45, 1000, 12, 3
"""Drift run: days, declarations a day, days the base model learns from, days per block of the per-block P@5."""


_SCORES = {"risk": lambda d: d["risk_score"], "tabular": lambda d: d["scores"]["tabular"]}
"""The rankings of a decision the drift figure compares: the engine's risk score and the model's alone."""


def _p5(ids: list[str], scores: dict[str, float], truth: Truth) -> float:
    return at_rate(np.array([scores[i] for i in ids]), truth, 0.05)["precision"]


def _replayed(world: Path, registry: str, learning: LearningSettings) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The PRE_ARRIVAL decision of each declaration and the promotion records of one ``zeikan replay``."""
    records: list[dict[str, Any]] = []
    decisions, _ = replay(world, RuleFile(DEFAULT_RULES).book, EngineConfig(), registry, None, learning, records)
    first = {}
    for decision in decisions:
        if decision["stage"] == "PRE_ARRIVAL":
            first.setdefault(decision["declaration_id"], decision)
    return first, records


def drift(name: str) -> None:
    """P@5 % over the last third with continuous learning and without, from the same replayed world."""
    settings = variant({**TUNING, **HELD_OUT}[name], SimSettings(days=DRIFT_DAYS, per_day=DRIFT_PER_DAY))
    root = Path(tempfile.mkdtemp(prefix="zeikan-bench-drift-"))
    world = root / name
    simulate(settings, world)
    history = load_history(str(world), with_truth=True)
    start = settings.day_start_ms(DRIFT_BASE_DAYS)
    trained = History([d for d in history.declarations if int(d["filed_at"]) < start],
                      [r for r in history.inspections if int(r["inspected_at"]) < start], history.data_hash)
    registry = str(root / "registry")
    base = ModelRegistry(registry).register(train_tabular(trained, TrainSettings.from_env()), history.data_hash, promote=True, version="base")
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    seconds: dict[str, float] = {}
    records: list[dict[str, Any]] = []
    for run, enabled in (("without", False), ("with", True)):
        with timed() as took:
            runs[run], found = _replayed(world, registry, LearningSettings.from_env(enabled=enabled))
        seconds[run] = took.seconds
        records += found
    for r in records:
        if r["candidate"] is not None:
            emit("drift_promotion", day=r["boundary"] // DAY_MS - settings.day_start_ms(0) // DAY_MS,
                 **{k: r[k] for k in ("candidate", "live", "promoted", "candidate_score", "live_score", "eval_positives",
                                      "train_declarations", "reason")})
    filed = {d["declaration_id"]: int(d["filed_at"]) for d in history.declarations}
    day_of = {i: (t - settings.day_start_ms(0)) // DAY_MS for i, t in filed.items()}
    last_third = DRIFT_DAYS - (DRIFT_DAYS - DRIFT_BASE_DAYS) // 3
    figures: dict[str, Any] = {"variant": name, "drift_day": settings.drift_day, "days": DRIFT_DAYS,
                               "per_day": DRIFT_PER_DAY, "base_model_days": DRIFT_BASE_DAYS,
                               "last_third_from_day": last_third, "base_model": base.version}
    tail = [i for i in runs["with"] if day_of[i] >= last_third and i in runs["without"]]
    truth, _ = truth_for(history, tail)
    oracle = truth.oracle()[0]
    figures["declarations"] = len(tail)
    figures["p5_oracle"] = at_rate(oracle, truth, 0.05)["precision"]
    if truth.observed is not None:
        figures["p5_oracle_observed"] = at_rate(truth.observed, truth, 0.05)["precision"]
    for run in ("with", "without"):
        for field, pick in _SCORES.items():
            figures[f"p5_{field}_{run}_retraining"] = _p5(tail, {i: pick(d) for i, d in runs[run].items()}, truth)
    for field in ("risk", "tabular"):
        with_, without = figures[f"p5_{field}_with_retraining"], figures[f"p5_{field}_without_retraining"]
        figures[f"{field}_with_over_without"] = with_ / without if without else None
        figures[f"{field}_with_over_oracle"] = with_ / figures["p5_oracle"]
        figures[f"{field}_without_over_oracle"] = without / figures["p5_oracle"]
        if truth.observed is not None:
            figures[f"{field}_with_over_oracle_observed"] = with_ / figures["p5_oracle_observed"]
            figures[f"{field}_without_over_oracle_observed"] = without / figures["p5_oracle_observed"]
    blocks = {}
    for first in range(DRIFT_BASE_DAYS, DRIFT_DAYS, DRIFT_BLOCK_DAYS):
        ids = [i for i in runs["with"] if first <= day_of[i] < first + DRIFT_BLOCK_DAYS]
        block_truth, _ = truth_for(history, ids)
        blocks[f"days_{first}_{first + DRIFT_BLOCK_DAYS - 1}"] = {
            f"{field}_{run}": round(_p5(ids, {i: pick(d) for i, d in runs[run].items()}, block_truth), 3)
            for field, pick in _SCORES.items() for run in runs
        } | {"oracle": round(at_rate(block_truth.oracle()[0], block_truth, 0.05)["precision"], 3)} | (
            {"oracle_observed": round(at_rate(block_truth.observed, block_truth, 0.05)["precision"], 3)}
            if block_truth.observed is not None else {})
    served = {runs["with"][i]["model_versions"].get("tabular") for i in tail}
    figures |= {"p5_per_block": blocks, "boundaries": len(records), "candidates": sum(r["candidate"] is not None for r in records),
                "promotions": sum(r["promoted"] for r in records), "versions_serving_last_third": len(served),
                "replay_seconds_with": seconds["with"], "replay_seconds_without": seconds["without"]}
    emit("continuous_learning_drift", **figures)


if __name__ == "__main__":
    if sys.argv[1:2] == ["drift"]:
        drift(sys.argv[2] if len(sys.argv) > 2 else "heldout_drift")
    else:
        main()
