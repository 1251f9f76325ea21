"""``zeikan run``: broker, worker(s), a simulated day published in accelerated time, a live view.

Everything runs locally: an :class:`EmbeddedBroker`, ``zeikan worker``
subprocesses, a publisher thread replaying a history (``zeikan simulate`` output,
generated on the fly unless ``--history`` is given) at ``speed`` x real time, and
a rich table of decisions per stage and lane with the latest reasons. Ctrl-C
stops the publisher, the workers (SIGTERM) and the broker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from zeikan.schemas.codec import codec_for
from zeikan.streams.broker import EmbeddedBroker
from zeikan.streams.kafka_io import publish, read_topic, record_key
from zeikan.streams.replay import read_history, timeline

TOPIC_OF = {"declaration": "declarations", "inspection": "inspection-results", "scan": "scans"}
LANES = ("RELEASE", "DOCUMENT_CHECK", "SCAN", "PHYSICAL_EXAM")


def simulate_day(out: Path, per_day: int, seed: int) -> Path:
    """Write one simulated day with ``zeikan simulate`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "zeikan.streams.cli", "simulate", "--out", str(out), "--days", "1",
           "--seed", str(seed), "--per-day", str(per_day)]
    subprocess.run(cmd, check=True)
    return out


def paced_publish(bootstrap: str, history_dir: Path, speed: float, stop: threading.Event) -> None:
    """Publish the history in event-time order, ``speed`` x faster than its event times."""
    events = timeline(read_history(history_dir))
    if not events:
        return
    first = events[0][0][0]
    started = time.monotonic()
    batch: list[tuple[str, bytes, bytes | None]] = []
    for key, kind, record in events:
        if stop.is_set():
            return
        topic = TOPIC_OF[kind]
        batch.append((topic, codec_for(topic).encode(dict(record)), record_key(topic, dict(record))))
        due = started + (key[0] - first) / 1000.0 / speed
        if due - time.monotonic() > 0.05 or len(batch) >= 200:
            publish(bootstrap, batch)
            batch = []
            time.sleep(max(0.0, due - time.monotonic()))
    if batch:
        publish(bootstrap, batch)


def _view(counts: Counter, recent: deque, urls: list[str], status: str) -> Group:
    table = Table(title="zeikan decisions", expand=True)
    table.add_column("stage")
    for lane in LANES:
        table.add_column(lane, justify="right")
    for stage in ("PRE_ARRIVAL", "POST_SCAN"):
        table.add_row(stage, *(str(counts[(stage, lane)]) for lane in LANES))
    latest = Table(title="latest selections", expand=True)
    for column in ("declaration", "stage", "lane", "score", "reasons"):
        latest.add_column(column, overflow="fold")
    for d in recent:
        latest.add_row(d["declaration_id"], d["stage"], d["action"], f"{d['risk_score']:.2f}", "; ".join(d["reasons"][:2]))
    return Group(table, latest, Text(status), Text("metrics: " + "  ".join(urls)))


def run_pipeline(workers: int, history: Path | None, per_day: int, seed: int, speed: float, web_port: int, workdir: Path) -> None:
    """Run the whole pipeline until the day is decided and quiet, or Ctrl-C."""
    console = Console()
    workdir.mkdir(parents=True, exist_ok=True)
    history_dir = history or simulate_day(workdir / "history", per_day, seed)
    with EmbeddedBroker(port=0, log_path=workdir / "tansu.log") as broker:
        env = {**os.environ, "ZEIKAN_BOOTSTRAP": broker.bootstrap}
        procs = []
        urls = [f"http://127.0.0.1:{web_port + i}/metrics" for i in range(workers)]
        for i in range(workers):
            log = (workdir / f"worker-{i}.log").open("ab")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "zeikan.streams.cli", "worker", "--web-port", str(web_port + i),
                 "--workdir", str(workdir / f"worker-{i}")], env=env, stdout=log, stderr=subprocess.STDOUT))
        console.print(f"broker {broker.bootstrap}; {workers} worker(s), logs in {workdir}; metrics: {' '.join(urls)}")
        stop = threading.Event()
        publisher = threading.Thread(target=paced_publish, args=(broker.bootstrap, history_dir, speed, stop), daemon=True)
        publisher.start()
        counts: Counter = Counter()
        recent: deque = deque(maxlen=8)
        codec = codec_for("decisions")
        try:
            with Live(_view(counts, recent, urls, "starting"), console=console, refresh_per_second=4) as live:
                idle_since = time.monotonic()
                while publisher.is_alive() or time.monotonic() - idle_since < 10:
                    for record in read_topic(broker.bootstrap, "decisions", from_beginning=not counts, idle_timeout_s=0.5):
                        d = codec.decode(record.value)
                        counts[(d["stage"], d["action"])] += 1
                        if d["action"] != "RELEASE":
                            recent.appendleft(d)
                        idle_since = time.monotonic()
                    status = "publishing" if publisher.is_alive() else "published; waiting for the last decisions"
                    live.update(_view(counts, recent, urls, f"{status}: {sum(counts.values())} decisions"))
        except KeyboardInterrupt:
            console.print("stopping...")
        finally:
            stop.set()
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
