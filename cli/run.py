"""``zeikan run``: broker, worker(s), simulated days in accelerated time with a port that obeys zeikan, a live view.

Everything runs locally:

1. the world's history (``--train-days`` x ``--train-per-day``, legacy policy, no
   images) is simulated once; on a first start the model registry has no live
   model and a LightGBM model is trained on it and promoted, with a progress bar;
2. an :class:`EmbeddedBroker` and ``zeikan worker`` subprocesses (serving the
   registry's live model and the committed ONNX image model) start;
3. warm start: the history is published in fast forward, so the engine's
   capacity cuts and entity state are warm and day one selects at capacity;
4. the next ``--days`` days of the same world are published at ``--speed`` x real
   time by :class:`~zeikan.sim.live_traffic.DemoTraffic`, whose port obeys the
   ``decisions`` topic: containers sent to SCAN are scanned (X-ray images rendered
   into the image store), selections are inspected, the results published;
5. a rich view shows both stages per lane, hit rates per lane (selected against
   random), seizures and revenue recovered against what the legacy policy found on
   the same declarations, the image model's POST_SCAN verdicts and the latest
   selections with their reasons.

``--history DIR`` publishes a directory instead (paced, no port).

Ctrl-C stops the publisher, the port, the workers (SIGTERM) and the broker.
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
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from zeikan.models.registry import DEFAULT_REGISTRY
from zeikan.schemas.codec import codec_for
from zeikan.sim.live_traffic import DemoTraffic, LoopTally
from zeikan.sim.settings import SimSettings
from zeikan.streams.kafka.broker import EmbeddedBroker
from zeikan.child_process import die_with_parent
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.kafka.kafka_io import publish, record_key
from zeikan.streams.engine.replay import event_order, read_history
from zeikan.ui.demo import start_demo_ui

TOPIC_OF = {"declaration": "declarations", "inspection": "inspection-results", "scan": "scans"}
LANES = ("RELEASE", "DOCUMENT_CHECK", "SCAN", "PHYSICAL_EXAM")
SELECTED = LANES[1:]
DAY_START = date(2026, 1, 1)
"""First (event-time) demo day; the world's history ends the day before."""
TAIL_MS = 86_400_000
"""Event time published after the last demo day (scans and results of its selections)."""


@dataclass(frozen=True)
class RunSettings:
    """What ``zeikan run`` starts (CLI flags)."""

    workers: int = 1
    history: Path | None = None
    """A history directory to publish instead of the simulated days."""
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
    days: int = 1
    images: bool = True

    def world(self) -> SimSettings:
        """The simulated world: the history days, then the demo days (same traders)."""
        return SimSettings(seed=self.seed, days=self.train_days + self.days, per_day=self.per_day,
                           start=DAY_START - timedelta(days=self.train_days))

    def history_settings(self) -> SimSettings:
        """The world's history (legacy policy): the training set and the warm start."""
        return SimSettings(seed=self.seed, days=self.train_days, per_day=self.train_per_day,
                           start=DAY_START - timedelta(days=self.train_days))


@dataclass
class RunStatus:
    """What the view shows besides decisions (written by the publisher thread)."""

    started: float = field(default_factory=time.monotonic)
    phase: str = "starting"
    published: int = 0
    first_decision_s: float | None = None


def world_history(settings: RunSettings, console: Console) -> Path:
    """The world's history directory, simulated (with a progress bar) unless already there for these settings."""
    out = settings.workdir / "training-history"
    marker = out / "settings.json"
    wanted = json.dumps(settings.history_settings().__dict__, default=str, sort_keys=True)
    if marker.is_file() and marker.read_text() == wanted:
        return out
    from zeikan.sim.simulate import simulate

    days = settings.train_days
    with Progress(*_columns(), console=console, transient=False) as progress:
        task = progress.add_task(f"simulating the history: {days} days x {settings.train_per_day} declarations", total=days)
        out.mkdir(parents=True, exist_ok=True)
        simulate(settings.history_settings(), out, on_day=lambda _day: progress.advance(task))
    marker.write_text(wanted)
    return out


def _columns() -> tuple:
    return (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn())


def ensure_model(registry: str, history_dir: Path, console: Console) -> str:
    """The registry's live version; on a first start, train a model on the history and promote it."""
    from zeikan.models.registry import ModelRegistry

    reg = ModelRegistry(registry)
    live = reg.live_version()
    if live is not None:
        console.print(f"model: {live} (live in {registry})")
        return live
    from zeikan.features.history import load_history
    from zeikan.models.training import train_tabular

    started = time.monotonic()
    with Progress(*_columns(), console=console, transient=False) as progress:
        train_task = progress.add_task(f"no model in {registry}: features, LightGBM, calibration, registry", total=3)
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


def paced_publish(bootstrap: str, history_dir: Path, speed: float, stop: threading.Event, status: RunStatus) -> None:
    """Publish the history in event-time order, ``speed`` x faster than its event times."""
    events = event_order(read_history(history_dir))
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
            status.published += publish(bootstrap, batch)
            batch = []
            stop.wait(max(0.0, due - time.monotonic()))
    if batch and not stop.is_set():
        status.published += publish(bootstrap, batch)


def closed_loop_publish(bootstrap: str, traffic: DemoTraffic, stop: threading.Event, status: RunStatus) -> None:
    """Warm start, then the demo days paced with the port acting on zeikan's decisions."""
    status.phase = "warm start: publishing the history in fast forward"
    status.published += traffic.warm_start(bootstrap, stop)
    status.phase = "publishing the demo days; the port obeys zeikan"

    def count(n: int) -> None:
        status.published += n

    traffic.run(bootstrap, stop, count)


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


@dataclass
class ViewState:
    """What the live view has seen on the decisions topic (demo days only when a tally is given)."""

    counts: Counter = field(default_factory=Counter)
    recent: deque = field(default_factory=lambda: deque(maxlen=6))
    post_scan: deque = field(default_factory=lambda: deque(maxlen=5))
    models: dict[str, str] = field(default_factory=dict)


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def _loop_tables(tally: LoopTally, counts: Counter) -> list:
    pre = sum(counts[("PRE_ARRIVAL", lane)] for lane in LANES)
    selected = sum(counts[("PRE_ARRIVAL", lane)] for lane in SELECTED)
    capacity = sum(EngineConfig().default_share.values())
    hits = Table(title="hit rate per lane: selected by risk | random control sample", expand=True)
    for column in ("lane", "risk: inspected", "risk: hit rate", "random: inspected", "random: hit rate"):
        hits.add_column(column, justify="right")
    for lane in SELECTED:
        cells = []
        for random in (False, True):
            n = tally.inspected[(lane, random)]
            cells += [str(n), _percent(tally.hits[(lane, random)], n)]
        hits.add_row(lane, *cells)
    results = Table(title="results so far, against the legacy policy on the same declarations", expand=True)
    for column in ("policy", "inspections", "seizures", "revenue recovered"):
        results.add_column(column, justify="right")
    inspections = sum(tally.inspected.values())
    results.add_row("zeikan", str(inspections), str(tally.seizures), f"{tally.revenue:,.0f} USD")
    results.add_row("legacy", str(tally.legacy_inspections), str(tally.legacy_seizures), f"{tally.legacy_revenue:,.0f} USD")
    clock = time.strftime("%Y-%m-%d %H:%M", time.gmtime(tally.clock_ms / 1000)) if tally.clock_ms else "-"
    line = Text(f"event time {clock}; PRE_ARRIVAL selected {selected} of {pre} ({_percent(selected, pre)}, "
                f"capacity {100 * capacity:.0f} %); {tally.scans} scans by the port")
    return [line, hits, results]


def _view(state: ViewState, urls: list[str], status: RunStatus, tally: LoopTally | None) -> Group:
    table = Table(title="zeikan decisions", expand=True)
    table.add_column("stage")
    for lane in LANES:
        table.add_column(lane, justify="right")
    for stage in ("PRE_ARRIVAL", "POST_SCAN"):
        table.add_row(stage, *(str(state.counts[(stage, lane)]) for lane in LANES))
    verdicts = Table(title="POST_SCAN verdicts (image model)", expand=True)
    for column in ("declaration", "verdict", "image score", "reasons"):
        verdicts.add_column(column, overflow="fold")
    for d in state.post_scan:
        image = d["scores"].get("image")
        verdicts.add_row(d["declaration_id"], d["action"], "-" if image is None else f"{image:.2f}", "; ".join(d["reasons"][:2]))
    latest = Table(title="latest selections", expand=True)
    for column in ("declaration", "stage", "lane", "score", "reasons"):
        latest.add_column(column, overflow="fold")
    for d in state.recent:
        latest.add_row(d["declaration_id"], d["stage"], d["action"], f"{d['risk_score']:.2f}", "; ".join(d["reasons"][:3]))
    first = "" if status.first_decision_s is None else f"; first decision {status.first_decision_s:.1f}s after start"
    lines = [
        Text(f"{status.phase}: {status.published} events published, {sum(state.counts.values())} decisions{first}"),
        Text("models: " + (", ".join(f"{k} {v}" for k, v in sorted(state.models.items())) or "-")),
        Text("metrics: " + "  ".join(urls)),
    ]
    loop = _loop_tables(tally, state.counts) if tally is not None else []
    return Group(table, *loop, verdicts, latest, *lines)


def _start_workers(settings: RunSettings, bootstrap: str) -> list[subprocess.Popen]:
    env = {**os.environ, "ZEIKAN_BOOTSTRAP": bootstrap, "ZEIKAN_REGISTRY": _absolute(settings.registry),
           "ZEIKAN_IMAGE_STORE": str(settings.workdir.resolve() / "images")}  # the port renders its scans there
    procs = []
    for i in range(settings.workers):
        log = (settings.workdir / f"worker-{i}.log").open("ab")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "zeikan.cli.main", "worker", "--web-port", str(settings.web_port + i),
             "--workdir", str(settings.workdir / f"worker-{i}")], env=env, stdout=log, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent if sys.platform == "linux" else None))  # a killed `zeikan run` leaves no worker
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


def _traffic(settings: RunSettings, history_dir: Path) -> DemoTraffic:
    render = None
    if settings.images:
        from zeikan.sim.cli import image_renderer

        render = image_renderer()
    images_dir = settings.workdir.resolve() / "images"
    return DemoTraffic(settings.world(), settings.train_days, settings.days, history_dir, images_dir, render,
                       settings.speed, TAIL_MS)


def run_pipeline(settings: RunSettings, started: float | None = None) -> RunStatus:
    """Run the whole pipeline until the days are decided and quiet, or Ctrl-C; returns the final status.

    ``started`` (``time.monotonic()``) is when the command started: the view reports
    the first decision's delay from it.
    """
    console = Console()
    status = RunStatus(started=started if started is not None else time.monotonic())
    workdir = settings.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen] = []
    stop = threading.Event()
    traffic: DemoTraffic | None = None
    try:
        history_dir = world_history(settings, console)
        ensure_model(settings.registry, history_dir, console)
        if settings.history is None:
            traffic = _traffic(settings, history_dir)
        with EmbeddedBroker(port=0, log_path=workdir / "tansu.log") as broker:
            procs = _start_workers(settings, broker.bootstrap)
            ui_proc, ui_line = start_demo_ui(broker.bootstrap, workdir, settings.ui_port, workdir.resolve() / "images",
                                             os.environ.get("ZEIKAN_RULES", ""))
            procs.append(ui_proc)
            console.print(ui_line)
            urls = [f"http://127.0.0.1:{settings.web_port + i}/metrics" for i in range(settings.workers)]
            console.print(f"broker {broker.bootstrap}; {settings.workers} worker(s), logs in {workdir}")
            threads = [threading.Thread(target=paced_publish, daemon=True,
                                        args=(broker.bootstrap, settings.history, settings.speed, stop, status))]
            if traffic is not None:
                threads = [threading.Thread(target=closed_loop_publish, args=(broker.bootstrap, traffic, stop, status),
                                            daemon=True),
                           threading.Thread(target=traffic.run_port, args=(stop,), daemon=True)]
            status.phase = "publishing"
            for thread in threads:
                thread.start()
            try:
                _watch(broker.bootstrap, threads[0], status, urls, console, traffic)
            finally:
                stop.set()
                for thread in threads:
                    thread.join(10)
    except KeyboardInterrupt:
        console.print("stopping...")
    finally:
        stop.set()
        _stop(procs)
    if status.first_decision_s is not None:
        summary = {"first_decision_s": round(status.first_decision_s, 2), "published": status.published}
        if traffic is not None:
            t = traffic.tally
            summary.update(seizures=t.seizures, revenue_recovered=round(t.revenue, 2), legacy_seizures=t.legacy_seizures,
                           legacy_revenue_recovered=round(t.legacy_revenue, 2))
        console.print(json.dumps(summary))
    return status


def _watch(bootstrap: str, publisher: threading.Thread, status: RunStatus, urls: list[str], console: Console,
           traffic: DemoTraffic | None) -> None:
    state = ViewState()
    tally = traffic.tally if traffic is not None else None
    codec = codec_for("decisions")
    consumer = _decisions_consumer(bootstrap)
    try:
        with Live(_view(state, urls, status, tally), console=console, refresh_per_second=4) as live:
            idle_since = time.monotonic()
            while publisher.is_alive() or time.monotonic() - idle_since < 10:
                for messages in consumer.poll(timeout_ms=250).values():
                    for message in messages:
                        d = codec.decode(message.value)
                        idle_since = time.monotonic()
                        if traffic is not None:
                            if int(d["event_time"]) < traffic.tally.demo_start_ms:
                                continue
                            traffic.offer(d)
                        if status.first_decision_s is None:
                            status.first_decision_s = time.monotonic() - status.started
                        state.counts[(d["stage"], d["action"])] += 1
                        state.models.update(d["model_versions"])
                        if d["stage"] == "POST_SCAN":
                            state.post_scan.appendleft(d)
                        if d["action"] != "RELEASE":
                            state.recent.appendleft(d)
                if not publisher.is_alive():
                    status.phase = "published; waiting for the last decisions"
                live.update(_view(state, urls, status, tally))
    finally:
        consumer.close()
