"""``zeikan run``: broker, worker(s), a simulated day published in accelerated time, a live view.

Everything runs locally:

1. the demo day is simulated without images (about a second) so publishing can
   start at once, while a background ``zeikan simulate`` of the same day (same
   seed: the same scans) renders its X-ray images; the publisher swaps the
   rendered scans in when it reaches the first scan (hours into the day);
2. on a first start the model registry has no live model: a history is simulated
   (``--train-days`` x ``--train-per-day``, no images) and a LightGBM model is
   trained and promoted, with a progress bar (seconds);
3. an :class:`EmbeddedBroker` and ``zeikan worker`` subprocesses (serving the
   registry's live model and the committed ONNX image model) start, a publisher
   thread replays the day at ``speed`` x real time and a rich view shows decisions
   per stage and lane, the latest selections with their reasons, and the models.

Ctrl-C stops the publisher, the renderer, the workers (SIGTERM) and the broker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from zeikan.models.registry import DEFAULT_REGISTRY
from zeikan.schemas.codec import codec_for
from zeikan.sim.settings import SimSettings
from zeikan.streams.broker import EmbeddedBroker
from zeikan.streams.kafka_io import publish, record_key
from zeikan.streams.replay import read_history, timeline
from zeikan.ui.demo import start_demo_ui

TOPIC_OF = {"declaration": "declarations", "inspection": "inspection-results", "scan": "scans"}
LANES = ("RELEASE", "DOCUMENT_CHECK", "SCAN", "PHYSICAL_EXAM")
DAY_START = date(2026, 1, 1)
"""First (event-time) day of the demo day; the training history ends the day before."""


@dataclass(frozen=True)
class RunSettings:
    """What ``zeikan run`` starts (CLI flags)."""

    workers: int = 1
    history: Path | None = None
    """A history directory to publish instead of the simulated day."""
    per_day: int = 2000
    seed: int = 7
    speed: float = 720.0
    web_port: int = 6066
    workdir: Path = Path("var/run")
    registry: str = DEFAULT_REGISTRY
    train_days: int = 30
    train_per_day: int = 500
    ui_port: int = 8080
    """Port of the officers' web app (``zeikan ui``)."""


@dataclass
class RunStatus:
    """What the view shows besides decisions (written by the publisher thread)."""

    started: float = field(default_factory=time.monotonic)
    phase: str = "starting"
    published: int = 0
    first_decision_s: float | None = None


def _simulate_quietly(out: Path, settings: SimSettings, on_day: Callable[[int], None] | None = None) -> Path:
    from zeikan.sim.simulate import simulate

    out.mkdir(parents=True, exist_ok=True)
    simulate(settings, out, on_day=on_day)
    return out


def ensure_model(registry: str, days: int, per_day: int, seed: int, workdir: Path, console: Console) -> str:
    """The registry's live version; on a first start, simulate a history, train and promote a model."""
    from zeikan.models.registry import ModelRegistry

    reg = ModelRegistry(registry)
    live = reg.live_version()
    if live is not None:
        console.print(f"model: {live} (live in {registry})")
        return live
    from zeikan.features.history import load_history
    from zeikan.models.training import train_tabular

    started = time.monotonic()
    history_dir = workdir / "training-history"
    settings = SimSettings(seed=seed + 1, days=days, per_day=per_day, start=DAY_START - timedelta(days=days))
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        sim_task = progress.add_task(f"no model in {registry}: simulating {days} days x {per_day} declarations", total=days)
        _simulate_quietly(history_dir, settings, on_day=lambda _day: progress.advance(sim_task))
        train_task = progress.add_task("features, LightGBM, calibration, registry", total=3)
        history = load_history(str(history_dir))
        progress.advance(train_task)
        model = train_tabular(history)
        progress.advance(train_task)
        info = reg.register(model, history.data_hash, promote=True)
        progress.advance(train_task)
    auc = info.metrics.get("valid_auc", float("nan"))
    console.print(f"model: trained and promoted {info.version} in {time.monotonic() - started:.1f}s "
                  f"({int(info.metrics.get('examples', 0))} inspected declarations, validation AUC {auc:.3f})")
    return info.version


class RenderedScans:
    """The demo day's X-ray images, rendered by a background ``zeikan simulate`` of the same day."""

    def __init__(self, out: Path, per_day: int, seed: int) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "zeikan.streams.cli", "simulate", "--out", str(out), "--days", "1",
               "--seed", str(seed), "--per-day", str(per_day), "--images"]
        self.process = subprocess.Popen(cmd, stdout=(out / "simulate.log").open("wb"), stderr=subprocess.STDOUT,
                                        preexec_fn=lambda: os.nice(5))
        self._scans: dict[str, dict[str, Any]] | None = None

    def scans(self) -> dict[str, dict[str, Any]]:
        """scan_id -> rendered ScanCompleted record (waits for the renderer; empty if it failed)."""
        if self._scans is None:
            ok = self.process.wait() == 0
            self._scans = {str(s["scan_id"]): dict(s) for s in read_history(self.out).scans} if ok else {}
        return self._scans

    def rendered(self, scan: Mapping[str, Any]) -> Mapping[str, Any]:
        """The rendered version of an unrendered scan (the scan itself when it has no image)."""
        return self.scans().get(str(scan["scan_id"]), scan)

    def stop(self) -> None:
        """Stop the renderer if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def paced_publish(
    bootstrap: str,
    history_dir: Path,
    speed: float,
    stop: threading.Event,
    status: RunStatus,
    resolve_scan: Callable[[Mapping[str, Any]], Mapping[str, Any]] = lambda scan: scan,
) -> None:
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
        if kind == "scan":
            status.phase = "waiting for the X-ray renderer"
            record = resolve_scan(record)
            status.phase = "publishing"
        topic = TOPIC_OF[kind]
        batch.append((topic, codec_for(topic).encode(dict(record)), record_key(topic, dict(record))))
        due = started + (key[0] - first) / 1000.0 / speed
        if due - time.monotonic() > 0.05 or len(batch) >= 200:
            status.published += publish(bootstrap, batch)
            batch = []
            stop.wait(max(0.0, due - time.monotonic()))
    if batch and not stop.is_set():
        status.published += publish(bootstrap, batch)


def _decisions_consumer(bootstrap: str) -> KafkaConsumer:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    partitions = None
    while not partitions:
        partitions = consumer.partitions_for_topic("decisions")
        if not partitions:
            time.sleep(0.1)
    tps = [TopicPartition("decisions", p) for p in sorted(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    return consumer


def _view(counts: Counter, recent: deque, models: dict[str, str], urls: list[str], status: RunStatus) -> Group:
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
        scores = f"{d['risk_score']:.2f}" + (f" (image {d['scores']['image']:.2f})" if d["scores"].get("image") is not None else "")
        latest.add_row(d["declaration_id"], d["stage"], d["action"], scores, "; ".join(d["reasons"][:3]))
    first = "" if status.first_decision_s is None else f"; first decision {status.first_decision_s:.1f}s after start"
    lines = [
        Text(f"{status.phase}: {status.published} events published, {sum(counts.values())} decisions{first}"),
        Text("models: " + (", ".join(f"{k} {v}" for k, v in sorted(models.items())) or "-")),
        Text("metrics: " + "  ".join(urls)),
    ]
    return Group(table, latest, *lines)


def _start_workers(settings: RunSettings, bootstrap: str) -> list[subprocess.Popen]:
    env = {**os.environ, "ZEIKAN_BOOTSTRAP": bootstrap, "ZEIKAN_REGISTRY": _absolute(settings.registry)}
    procs = []
    for i in range(settings.workers):
        log = (settings.workdir / f"worker-{i}.log").open("ab")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "zeikan.streams.cli", "worker", "--web-port", str(settings.web_port + i),
             "--workdir", str(settings.workdir / f"worker-{i}")], env=env, stdout=log, stderr=subprocess.STDOUT))
    return procs


def _absolute(url: str) -> str:
    return url if "://" in url else str(Path(url).resolve())


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_pipeline(settings: RunSettings, started: float | None = None) -> RunStatus:
    """Run the whole pipeline until the day is decided and quiet, or Ctrl-C; returns the final status.

    ``started`` (``time.monotonic()``) is when the command started: the view reports
    the first decision's delay from it.
    """
    console = Console()
    status = RunStatus(started=started if started is not None else time.monotonic())
    workdir = settings.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    renderer: RenderedScans | None = None
    if settings.history is None:
        day = SimSettings(seed=settings.seed, days=1, per_day=settings.per_day, start=DAY_START)
        history_dir = _simulate_quietly(workdir / "day", day)
        renderer = RenderedScans(workdir / "day-images", settings.per_day, settings.seed)
    else:
        history_dir = settings.history
    procs: list[subprocess.Popen] = []
    stop = threading.Event()
    try:
        ensure_model(settings.registry, settings.train_days, settings.train_per_day, settings.seed, workdir, console)
        with EmbeddedBroker(port=0, log_path=workdir / "tansu.log") as broker:
            procs = _start_workers(settings, broker.bootstrap)
            ui_proc, ui_line = start_demo_ui(broker.bootstrap, workdir, settings.ui_port, workdir / "day-images" / "images",
                                             os.environ.get("ZEIKAN_RULES", ""))
            procs.append(ui_proc)
            console.print(ui_line)
            urls = [f"http://127.0.0.1:{settings.web_port + i}/metrics" for i in range(settings.workers)]
            console.print(f"broker {broker.bootstrap}; {settings.workers} worker(s), logs in {workdir}")
            resolve = renderer.rendered if renderer else (lambda scan: scan)
            publisher = threading.Thread(
                target=paced_publish, args=(broker.bootstrap, history_dir, settings.speed, stop, status, resolve), daemon=True
            )
            status.phase = "publishing"
            publisher.start()
            try:
                _watch(broker.bootstrap, publisher, status, urls, console)
            finally:
                stop.set()
                publisher.join(10)
    except KeyboardInterrupt:
        console.print("stopping...")
    finally:
        stop.set()
        _stop(procs)
        if renderer:
            renderer.stop()
    if status.first_decision_s is not None:
        console.print(json.dumps({"first_decision_s": round(status.first_decision_s, 2), "published": status.published}))
    return status


def _watch(bootstrap: str, publisher: threading.Thread, status: RunStatus, urls: list[str], console: Console) -> None:
    counts: Counter = Counter()
    recent: deque = deque(maxlen=8)
    models: dict[str, str] = {}
    codec = codec_for("decisions")
    consumer = _decisions_consumer(bootstrap)
    try:
        with Live(_view(counts, recent, models, urls, status), console=console, refresh_per_second=4) as live:
            idle_since = time.monotonic()
            while publisher.is_alive() or time.monotonic() - idle_since < 10:
                for messages in consumer.poll(timeout_ms=250).values():
                    for message in messages:
                        d = codec.decode(message.value)
                        if status.first_decision_s is None:
                            status.first_decision_s = time.monotonic() - status.started
                        counts[(d["stage"], d["action"])] += 1
                        models.update(d["model_versions"])
                        if d["action"] != "RELEASE":
                            recent.appendleft(d)
                        idle_since = time.monotonic()
                if not publisher.is_alive():
                    status.phase = "published; waiting for the last decisions"
                live.update(_view(counts, recent, models, urls, status))
    finally:
        consumer.close()
