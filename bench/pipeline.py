"""Pipeline benchmark: declarations/s through validate -> score -> decide on one worker, as a ratio
to a no-op Faust agent over the same backlog, and filing -> decision latency at a fixed offered rate.

Run ``python -m zeikan.bench.pipeline`` (prints JSON). Everything runs on an
embedded broker; the worker is a real ``zeikan worker`` subprocess.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from zeikan.bench.common import served_model
from zeikan.schemas.codec import codec_for
from zeikan.schemas.examples import example_record
from zeikan.schemas.reference import make_container_id
from zeikan.streams.kafka.broker import EmbeddedBroker, free_port
from zeikan.streams.kafka.kafka_io import end_offsets, publish, read_topic, record_key

BACKLOG = 20_000
RATE = 1_000
LATENCY_SECONDS = 15


def declarations(n: int, start_ms: int, step_ms: float, offset: int = 0) -> list[dict[str, Any]]:
    """``n`` valid declarations from a few hundred importers, filed ``step_ms`` apart."""
    base = example_record("declarations")
    out = []
    for i in range(offset, offset + n):
        d = copy.deepcopy(base)
        d["declaration_id"] = f"BENCH-{i:08d}"
        d["filed_at"] = int(start_ms + (i - offset) * step_ms)
        d["expected_arrival"] = d["filed_at"] + 72 * 3_600_000
        d["importer_id"] = f"IMP-{i % 400:04d}"
        d["containers"] = [make_container_id("MSKU", i % 999_999)]
        out.append(d)
    return out


def _encode(records: list[dict[str, Any]]) -> list[tuple[str, bytes, bytes | None]]:
    codec = codec_for("declarations")
    return [("declarations", codec.encode(r), record_key("declarations", r)) for r in records]


NOOP_APP = """
import os, sys, time, faust
BOOTSTRAP, N, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sys.argv = [sys.argv[0], "worker", "-l", "warn", "--without-web"]
app = faust.App("noop-bench", broker="kafka://" + BOOTSTRAP, store="memory://", web_enabled=False,
                consumer_auto_offset_reset="earliest", topic_partitions=8)
topic = app.topic("declarations", key_serializer="raw", value_serializer="raw")
seen = [0, None]
@app.agent(topic)
async def noop(stream):
    async for events in stream.take_events(500, within=0.02):
        if seen[1] is None: seen[1] = time.perf_counter()
        seen[0] += len(events)
        if seen[0] >= N:
            open(OUT, "w").write(str(N / (time.perf_counter() - seen[1])))
            os._exit(0)
app.main()
"""


def noop_rate(bootstrap: str, n: int, workdir: Path) -> float:
    """Events/s of a do-nothing Faust agent draining the backlog (first to last batch)."""
    script = workdir / "noop.py"
    script.write_text(NOOP_APP)
    result = workdir / "noop-rate.txt"
    subprocess.run([sys.executable, str(script), bootstrap, str(n), str(result)],
                   capture_output=True, timeout=600, cwd=workdir)
    return float(result.read_text())


def _worker(bootstrap: str, workdir: Path, app_id: str, port: int | None = None) -> subprocess.Popen:
    env = {**os.environ, "ZEIKAN_BOOTSTRAP": bootstrap, "ZEIKAN_APP_ID": app_id}
    return subprocess.Popen([sys.executable, "-m", "zeikan.cli.main", "worker", "--web-port", str(port or free_port()),
                             "--workdir", str(workdir / app_id)], env=env,
                            stdout=(workdir / f"{app_id}.log").open("ab"), stderr=subprocess.STDOUT)


def _wait_ready(port: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/zeikan/state", timeout=2) as resp:
                if json.loads(resp.read())["caught_up"]:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError("worker not ready")


def _decisions(bootstrap: str) -> list[dict[str, Any]]:
    codec = codec_for("decisions")
    return [codec.decode(r.value) for r in read_topic(bootstrap, "decisions", from_beginning=True, idle_timeout_s=1.0)]


def _decision_count(bootstrap: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition("decisions", p) for p in consumer.partitions_for_topic("decisions") or ()]
        return sum(end_offsets(consumer, tps).values())
    finally:
        consumer.close()


def pipeline_rate(bootstrap: str, n: int, workdir: Path) -> float:
    """Declarations/s of one worker draining the backlog (first to last decided_at)."""
    worker = _worker(bootstrap, workdir, "bench-throughput")
    try:
        deadline = time.monotonic() + 600
        while _decision_count(bootstrap) < n and time.monotonic() < deadline:
            time.sleep(1)
        decided = [d["decided_at"] for d in _decisions(bootstrap)]
    finally:
        worker.terminate()
        worker.wait(30)
    return len(decided) / max(1e-3, (max(decided) - min(decided)) / 1000)


def latency(bootstrap: str, workdir: Path) -> dict[str, float]:
    """p50/p99 filed_at -> decided_at (ms) at ``RATE`` declarations/s on an empty broker, filed_at = send time."""
    port = free_port()
    worker = _worker(bootstrap, workdir, "bench-latency", port)
    try:
        _wait_ready(port)
        time.sleep(3)  # partitions assigned
        n = RATE * LATENCY_SECONDS

        async def send() -> None:
            from aiokafka import AIOKafkaProducer

            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
            await producer.start()
            codec = codec_for("declarations")
            start = time.monotonic()
            futures = []
            for i in range(n):
                await asyncio.sleep(max(0.0, start + i / RATE - time.monotonic()))
                d = declarations(1, int(time.time() * 1000), 0, offset=10_000_000 + i)[0]
                futures.append(await producer.send("declarations", codec.encode(d), key=d["declaration_id"].encode()))
            await asyncio.gather(*futures)
            await producer.stop()

        asyncio.run(send())
        deadline = time.monotonic() + 120
        while _decision_count(bootstrap) < n and time.monotonic() < deadline:
            time.sleep(1)
        lat = sorted(d["decided_at"] - d["event_time"] for d in _decisions(bootstrap)
                     if d["declaration_id"] >= "BENCH-10000000" and d["stage"] == "PRE_ARRIVAL")
    finally:
        worker.terminate()
        worker.wait(30)
    return {"p50_ms": lat[len(lat) // 2], "p99_ms": lat[int(len(lat) * 0.99)], "n": len(lat)}


def main() -> None:
    """Run both measurements and print them as JSON."""
    with served_model() as model:
        with TemporaryDirectory() as tmp, EmbeddedBroker(port=0, log_path=Path(tmp) / "tansu.log") as broker:
            workdir = Path(tmp)
            publish(broker.bootstrap, _encode(declarations(BACKLOG, 1_709_251_200_000, 4_000)))
            noop = noop_rate(broker.bootstrap, BACKLOG, workdir)
            rate = pipeline_rate(broker.bootstrap, BACKLOG, workdir)
        with TemporaryDirectory() as tmp, EmbeddedBroker(port=0, log_path=Path(tmp) / "tansu.log") as broker:
            timing = latency(broker.bootstrap, Path(tmp))
    result = {
        "model": model,
        "backlog": BACKLOG,
        "noop_faust_events_per_s": round(noop),
        "pipeline_decl_per_s": round(rate),
        "ratio": round(rate / noop, 3),
        "latency_at_rate_per_s": RATE,
        **timing,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
