"""Restart: time to ready and memory of a worker killed and restarted over a long history.

``python -m zeikan.bench.restart [--sizes 250000 --sizes 1000000] [--per-day 5000]`` publishes
each simulated history (declarations ``per_day`` a day, from the simulator) to its own embedded broker while one worker
decides it, waits until its decision count settles and the quiet log's snapshot is written, SIGKILLs
that worker, starts a new one on the same work folder, and reports:

* ``ready_s``: from the new process's start to ``/readyz`` 200 (its shared state caught up);
* ``first_decision_s``: from its start to the decision of a declaration published right
  after the start (what a user waits for; comparable with builds whose /readyz says less);
* ``rss_mb``: its resident memory once ready, and the RSS of the first worker at the end;

then the largest/smallest ratios. The goal: ready within 30 s and RSS under 1 GB at
every size, and a ratio of at most 1.2 for 4x the history.
"""

from __future__ import annotations

import argparse
import re
from datetime import date, datetime
import os
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from zeikan.bench.common import emit, http_get, served_model
from zeikan.bench.pipeline import _encode, declarations
from zeikan.bench.scaling import _stop, metric_sum, spawn_worker, wait_for
from zeikan.streams.kafka.broker import EmbeddedBroker, free_port
from zeikan.schemas.codec import codec_for
from zeikan.schemas.contract import DECLARATIONS
from zeikan.schemas.jsonl import read_jsonl
from zeikan.sim.settings import SimSettings
from zeikan.sim.simulate import simulate
from zeikan.streams.kafka.kafka_io import publish, record_key

START = date(2021, 1, 1)
"""Long histories start here: they stay within the plausibility window (ten years back)."""
WORKER_ENV = {"ZEIKAN_SESSION_TIMEOUT_S": "6", "ZEIKAN_HEARTBEAT_S": "1", "ZEIKAN_APP_ID": "bench-restart"}


def _publish_simulated(bootstrap: str, size: int, per_day: int, out: Path) -> int:
    """Simulate ``size`` declarations (``per_day`` a day, no images) and publish them in filing order; the last filing time."""
    simulate(SimSettings(seed=7, days=-(-size // per_day), per_day=per_day, start=START), out)
    codec, batch, last = codec_for(DECLARATIONS.name), [], 0
    for _, record in read_jsonl(out / "declarations.jsonl", DECLARATIONS.name):
        if isinstance(record, Exception):
            continue
        batch.append((DECLARATIONS.name, codec.encode(record), record_key(DECLARATIONS.name, record)))
        last = max(last, int(record["filed_at"]))
        if len(batch) >= 50_000:
            publish(bootstrap, batch)
            batch = []
    publish(bootstrap, batch)
    return last


SNAPSHOT_QUIET_S = 10
"""The worker's ``snapshot_min_s``: it snapshots once no event came for that long."""


def _settle(count: Callable[[], float], still_s: float = 6.0) -> None:
    """Return once ``count`` has not moved for ``still_s`` (the worker decided all it can: the history's
    last epoch stays open until something newer comes)."""
    last, since = count(), time.monotonic()
    while time.monotonic() - since < still_s:
        time.sleep(1.0)
        now = count()
        if now != last:
            last, since = now, time.monotonic()


def measure(size: int, per_day: int, timeout_s: float) -> dict[str, Any]:
    """One history of ``size`` declarations: decide it, kill the worker, restart, measure."""
    step = 86_400_000 / per_day
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        broker = stack.enter_context(EmbeddedBroker(log_path=Path(tmp) / "tansu.log"))
        env = {**os.environ, **WORKER_ENV, "ZEIKAN_BOOTSTRAP": broker.bootstrap}
        workdir = Path(tmp) / "w"
        port = free_port()
        first = spawn_worker(port, workdir, env, "INFO")
        stack.callback(_stop, first)
        wait_for(lambda: http_get(port, "/readyz")[0] == 200, 120, "the first worker")
        last = _publish_simulated(broker.bootstrap, size, per_day, Path(tmp) / "sim")
        decided = lambda: metric_sum(port, "zeikan_decisions_total", stage="PRE_ARRIVAL")  # noqa: E731
        wait_for(lambda: decided() >= 0.99 * size - per_day, timeout_s, f"{size} decisions")
        _settle(decided)
        time.sleep(SNAPSHOT_QUIET_S + 2)  # the quiet log's snapshot is written
        first_rss = metric_sum(port, "process_resident_memory_bytes") / 2**20
        first.send_signal(signal.SIGKILL)
        first.wait()
        port = free_port()
        log_size = (workdir / "worker.log").stat().st_size
        started, started_wall = time.monotonic(), time.time()
        second = spawn_worker(port, workdir, env, "INFO")
        stack.callback(_stop, second)
        probe = declarations(1, last + 3_600_000, step, offset=size + 1)
        publish(broker.bootstrap, _encode(probe))
        wait_for(lambda: http_get(port, "/readyz")[0] == 200, timeout_s, "the restarted worker's readiness")
        ready_s = time.monotonic() - started
        rss = metric_sum(port, "process_resident_memory_bytes") / 2**20
        wait_for(lambda: metric_sum(port, "zeikan_decisions_total", stage="PRE_ARRIVAL") >= 1, timeout_s, "the probe's decision")
        first_decision_s = time.monotonic() - started
        phases = _phases((workdir / "worker.log").read_bytes()[log_size:].decode(errors="replace"), started_wall)
        if "facts_caught_up_offset" in phases and "snapshot_restored_offset" in phases:
            phases["facts_tail_records"] = int(phases["facts_caught_up_offset"] - phases["snapshot_restored_offset"])
    return {
        "history": size, "per_day": per_day, "ready_s": round(ready_s, 2), "first_decision_s": round(first_decision_s, 2),
        "rss_mb": round(rss, 1), "first_worker_rss_mb": round(first_rss, 1), **phases,
    }  # fmt: skip


PHASES = {
    "snapshot_restored_s": re.compile(r"shared state restored from the snapshot at facts offset (\d+)"),
    "facts_caught_up_s": re.compile(r"facts log caught up at offset (\d+)"),
    "tables_recovered_s": re.compile(r"Recovery complete"),
    "worker_ready_s": re.compile(r"\[\^Worker\]: Ready"),
}
"""Log lines of the restarted worker that mark its phases (the offset, when the line has one)."""


def _phases(log: str, started_wall: float) -> dict[str, float | int]:
    """Seconds from the restart to each phase's first log line, and the facts offsets restored and caught up."""
    out: dict[str, float | int] = {}
    for line in log.splitlines():
        stamp = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]", line)
        for name, pattern in PHASES.items():
            found = pattern.search(line)
            if stamp and found and name not in out:
                at = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
                out[name] = round(at - started_wall, 2)
                if found.groups():
                    out[name.removesuffix("_s") + "_offset"] = int(found.group(1))
    return out


def main(argv: Sequence[str] | None = None) -> dict[int, dict[str, Any]]:
    """Measure each size, print one JSON line per size and the largest/smallest ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, action="append", help="history sizes (default 250000 and 1000000)")
    parser.add_argument("--per-day", type=int, default=5_000)
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args(argv)
    with served_model() as model:
        results = {size: emit(f"restart.{size}", model=model, **measure(size, args.per_day, args.timeout))
                   for size in args.sizes or [250_000, 1_000_000]}
    small, large = results[min(results)], results[max(results)]
    emit(
        "restart", history_ratio=max(results) / min(results),
        ready_ratio=large["ready_s"] / small["ready_s"], rss_ratio=large["rss_mb"] / small["rss_mb"],
        first_decision_ratio=large["first_decision_s"] / small["first_decision_s"],
    )
    return results


if __name__ == "__main__":
    main()
