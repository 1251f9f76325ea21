"""Continuous-learning figures: training time per boundary and the training buffer's memory.

Run ``python -m zeikan.bench.learning [HISTORY_DIR]``. Without a directory it simulates
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

from zeikan.bench.common import emit
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
    from zeikan.sim.settings import SimSettings
    from zeikan.sim.simulate import simulate

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


if __name__ == "__main__":
    main()
