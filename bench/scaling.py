"""Pipeline scaling: declarations/s of 1 and 2 ``zeikan worker`` processes, and memory per worker.

``python -m zeikan.bench.scaling [--records 100000] [--workers 1 --workers 2]`` prints one
JSON line per worker count. Each run gets its own embedded broker. The workers join
first (every one ready, via ``/readyz``, with partitions assigned); then N declarations
are published at full speed while they decide. Throughput = N / (last - first
``decided_at`` of the run's PRE_ARRIVAL decisions). Memory = each worker's
``process_resident_memory_bytes`` from its own ``/metrics`` at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from zeikan.bench.common import emit, http_get, served_model
from zeikan.bench.pipeline import _encode, declarations
from zeikan.schemas.codec import codec_for
from zeikan.streams.kafka.broker import EmbeddedBroker, free_port
from zeikan.streams.kafka.kafka_io import publish, read_topic

WORKER_ENV = {"ZEIKAN_SESSION_TIMEOUT_S": "6", "ZEIKAN_HEARTBEAT_S": "1", "ZEIKAN_LAG_INTERVAL_S": "1"}


def metric_sum(port: int, name: str, **labels: str) -> float:
    """Sum of one metric's samples (matching ``labels``) on a worker's /metrics."""
    status, body = http_get(port, "/metrics")
    if status != 200:
        return 0.0
    return sum(
        sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def ready_with_partitions(port: int) -> bool:
    """The worker is ready and holds at least one partition."""
    status, body = http_get(port, "/readyz")
    return status == 200 and bool(json.loads(body).get("assigned_partitions"))


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll ``condition`` every 0.25 s; TimeoutError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"scaling bench: timed out waiting for {what}")
        time.sleep(0.25)


def measure(workers: int, records: int, timeout_s: float = 300.0) -> dict[str, Any]:
    """One run with ``workers`` processes deciding ``records`` declarations."""
    encoded = _encode(declarations(records, 1_709_251_200_000, 4_000))
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        broker = stack.enter_context(EmbeddedBroker(log_path=Path(tmp) / "tansu.log"))
        env = {**os.environ, **WORKER_ENV, "ZEIKAN_BOOTSTRAP": broker.bootstrap, "ZEIKAN_APP_ID": "bench-scaling"}
        ports = [free_port() for _ in range(workers)]
        for index, port in enumerate(ports):
            stack.callback(_stop, spawn_worker(port, Path(tmp) / f"w{index}", env))
        wait_for(lambda: all(ready_with_partitions(p) for p in ports), timeout_s / 2, f"{workers} ready worker(s)")
        time.sleep(1.0)
        cpu_before = sum(metric_sum(p, "process_cpu_seconds_total") for p in ports)
        started = time.time()
        publish(broker.bootstrap, encoded)
        publish_s = time.time() - started
        decided = lambda: sum(metric_sum(p, "zeikan_decisions_total", stage="PRE_ARRIVAL") for p in ports)  # noqa: E731
        wait_for(lambda: decided() >= records, timeout_s, f"{records} decisions")
        cpu_s = sum(metric_sum(p, "process_cpu_seconds_total") for p in ports) - cpu_before
        rss_mb = [round(metric_sum(p, "process_resident_memory_bytes") / 2**20, 1) for p in ports]
        codec = codec_for("decisions")
        times = [
            d["decided_at"]
            for d in (codec.decode(r.value) for r in read_topic(broker.bootstrap, "decisions", from_beginning=True, idle_timeout_s=1.0))
            if d["stage"] == "PRE_ARRIVAL"
        ]
    seconds = (max(times) - min(times)) / 1000
    return {
        "workers": workers, "records": records, "pipeline_decl_per_s": records / seconds if seconds > 0 else float("inf"),
        "publish_per_s": records / publish_s, "rss_mb_per_worker": rss_mb,
        "cpu_s_per_1000": round(1000 * cpu_s / records, 3),
    }  # fmt: skip


def spawn_worker(port: int, workdir: Path, env: dict[str, str], loglevel: str = "WARNING") -> subprocess.Popen[bytes]:
    """A ``zeikan worker`` child process logging to ``workdir/worker.log``."""
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / "worker.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "zeikan.cli.main", "worker", "--web-port", str(port), "--workdir", str(workdir), "--loglevel", loglevel],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main(argv: Sequence[str] | None = None) -> dict[int, dict[str, Any]]:
    """Measure each worker count and print one JSON line per run, then the 2-vs-1 ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 20,000 declarations (20 s) gave the same code CPU ratios from 0.97 to 1.40 (round 8): the join and idle loops weigh
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--workers", type=int, action="append", help="worker counts (default 1 and 2)")
    args = parser.parse_args(argv)
    results = {}
    with served_model() as model:
        for workers in args.workers or [1, 2]:
            try:
                results[workers] = emit(f"scaling.x{workers}", model=model, **measure(workers, args.records))
            except TimeoutError as exc:
                results[workers] = emit(f"scaling.x{workers}", workers=workers, error=str(exc))
    rates = {w: r.get("pipeline_decl_per_s") for w, r in results.items()}
    cpu = {w: r.get("cpu_s_per_1000") for w, r in results.items()}
    if rates.get(1) and rates.get(2):
        emit("scaling", pipeline_2_vs_1_workers=rates[2] / rates[1], cpu_2_vs_1_workers=(cpu[2] or 0) / (cpu[1] or 1))
    return results


if __name__ == "__main__":
    main()
