"""Reference stream engines over the embedded broker: a no-op Faust agent, a Faust JSON relay
and a quixstreams JSON relay (decode + produce), with 1 and 2 worker processes.

``python -m zeikan.bench.relay [--records 50000] [--engine E] [--bootstrap B]`` prints one
JSON line per run. Each worker is its own process (its peak RSS is reported). Input: N
declaration records as JSON (~1 kB). Throughput = N / (last measured record - first
measured record), over all workers; warm-up records are never measured.

* ``backlog`` (one worker): the N records are published first, then the worker drains
  them: the engine's own rate (used for the pipeline ratios).
* ``live`` (1 or 2 workers): the group forms on an empty topic (warm-up records until each
  worker consumed one), then N records are published while the workers consume (used for
  the 1 -> 2 worker scaling). ``publisher_bound`` marks a figure within 10 % of
  ``publish_per_s``: the engine may be faster than measured.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from zeikan.bench.common import emit
from zeikan.schemas.contract import DECLARATIONS
from zeikan.schemas.examples import example_record
from zeikan.schemas.jsonl import dumps
from zeikan.streams.kafka.broker import EmbeddedBroker
from zeikan.streams.kafka.kafka_io import ensure_topics, publish

WARMUP = b'{"warmup":'
"""Prefix of warm-up records: consumed but never measured."""
ENGINES = ("faust-noop", "faust-relay", "quix-relay")
RUNS: tuple[tuple[str, int, str], ...] = (
    ("faust-noop", 1, "backlog"), ("faust-relay", 1, "backlog"), ("quix-relay", 1, "backlog"),
    ("faust-noop", 1, "live"), ("faust-noop", 2, "live"), ("quix-relay", 1, "live"), ("quix-relay", 2, "live"),
)  # fmt: skip
"""(engine, workers, mode) measured by default; live runs give the 1 -> 2 worker scaling."""


@dataclass
class Progress:
    """What one worker has consumed: measured records and their first/last wall-clock times."""

    count: int = 0
    warmups: int = 0
    first: float = 0.0
    last: float = 0.0
    rss_mb: float = 0.0

    def add(self, values: Sequence[bytes]) -> None:
        """Account for one batch of raw record values."""
        now = time.time()
        measured = sum(1 for v in values if not v.startswith(WARMUP))
        self.warmups += len(values) - measured
        if measured:
            self.first = self.first or now
            self.last = now
            self.count += measured


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    ``VmHWM`` from /proc (reset by exec); elsewhere ``ru_maxrss``, which on Linux would
    still hold the forking parent's peak.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kilobytes) / 1024


def _report_forever(progress: Progress, path: Path, every_s: float = 0.1) -> None:
    """Write ``progress`` as JSON to ``path`` (atomically) every ``every_s`` seconds."""
    tmp = path.with_suffix(".tmp")
    while True:
        progress.rss_mb = peak_rss_mb()
        tmp.write_text(json.dumps(asdict(progress)))
        tmp.replace(path)
        time.sleep(every_s)


def run_faust(engine: str, bootstrap: str, source: str, sink: str, group: str, progress: Progress) -> None:
    """A Faust worker: no-op agent (count only) or JSON relay (decode, re-encode, produce)."""
    import faust
    from faust.worker import Worker

    app = faust.App(
        group, broker=f"kafka://{bootstrap}", store="memory://", web_enabled=False,
        broker_session_timeout=10, broker_heartbeat_interval=1, consumer_auto_offset_reset="earliest",
        producer_linger_ms=5,
    )  # fmt: skip
    source_topic = app.topic(source, value_serializer="raw", key_serializer="raw")

    @app.agent(source_topic)
    async def consume(stream: Any) -> None:
        async for batch in stream.take(1000, within=0.05):
            if engine == "faust-relay":
                for value in batch:
                    out = json.dumps(json.loads(value)).encode()
                    await app.producer.send(sink, None, out, None, None, None)
            progress.add(batch)

    Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False).execute_from_commandline()


def run_quix(bootstrap: str, source: str, sink: str, group: str, progress: Progress) -> None:
    """A quixstreams worker: JSON decode, then produce to ``sink``."""
    from quixstreams import Application

    app = Application(broker_address=bootstrap, consumer_group=group, auto_offset_reset="earliest", loglevel="WARNING")
    sdf = app.dataframe(app.topic(source, value_deserializer="json"))
    sdf = sdf.update(lambda value: progress.add([WARMUP if "warmup" in value else b"x"]))
    sdf.to_topic(app.topic(sink, value_serializer="json"))
    app.run()


def child(args: argparse.Namespace) -> None:
    """Entry of one worker process (``--child ENGINE``)."""
    progress = Progress()
    threading.Thread(target=_report_forever, args=(progress, Path(args.status)), daemon=True).start()
    if args.child == "quix-relay":
        run_quix(args.bootstrap, args.source, args.sink, args.group, progress)
    else:
        run_faust(args.child, args.bootstrap, args.source, args.sink, args.group, progress)


def _read(path: Path) -> Progress:
    try:
        return Progress(**json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return Progress()


def _stop(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait(condition: Callable[[], bool], timeout_s: float, what: str, step: Callable[[], None] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"relay bench: timed out waiting for {what}")
        if step:
            step()
        time.sleep(0.2)


def _spawn(engine: str, bootstrap: str, topics: tuple[str, str, str], status: Path) -> subprocess.Popen[bytes]:
    source, sink, group = topics
    return subprocess.Popen(
        [sys.executable, "-m", "zeikan.bench.relay", "--child", engine, "--bootstrap", bootstrap,
         "--source", source, "--sink", sink, "--group", group, "--status", str(status)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def measure(
    engine: str, workers: int, mode: str, bootstrap: str, values: list[bytes], partitions: int, timeout_s: float
) -> dict[str, Any]:
    """One run: ``workers`` processes of ``engine`` consume ``values``; figures as a dict.

    ``live``: the group is formed first (warm-up), then the records are published while
    the workers consume. ``backlog`` (one worker): the records are published first and
    the worker drains them, so the publisher cannot cap the figure.
    """
    run_id = uuid.uuid4().hex[:8]
    source = f"bench-relay-in-{run_id}"
    topics = (source, f"bench-relay-out-{run_id}", f"bench-relay-{engine}-{run_id}")
    ensure_topics(bootstrap, topics[:2], partitions)
    warmups = [(source, WARMUP + b"true}", f"w{p}".encode()) for p in range(partitions * 2)]
    publish_s = 0.0
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        paths = [Path(tmp) / f"worker-{i}.json" for i in range(workers)]
        if mode == "backlog":
            publish(bootstrap, warmups + [(source, value, None) for value in values])
        for path in paths:
            stack.callback(_stop, _spawn(engine, bootstrap, topics, path))
        if mode == "live":
            joined = lambda: all(_read(p).warmups for p in paths)  # noqa: E731
            _wait(joined, timeout_s, f"{workers} {engine} worker(s) to join", lambda: publish(bootstrap, warmups))
            time.sleep(1.0)
            started = time.time()
            publish(bootstrap, ((source, value, None) for value in values))
            publish_s = time.time() - started
        _wait(lambda: sum(_read(p).count for p in paths) >= len(values), timeout_s, f"{engine} to consume {len(values)}")
        time.sleep(0.3)
        done = [_read(p) for p in paths]
    seconds = max(p.last for p in done) - min(p.first for p in done if p.count)
    rate = len(values) / seconds if seconds > 0 else float("inf")
    figures: dict[str, Any] = {"engine": engine, "workers": workers, "mode": mode, "records": len(values), "events_per_s": rate}
    if mode == "live":
        figures |= {"publish_per_s": len(values) / publish_s, "publisher_bound": rate >= 0.9 * len(values) / publish_s}
    return figures | {"per_worker": [p.count for p in done], "rss_mb_per_worker": [round(p.rss_mb, 1) for p in done]}


def declaration_values(count: int) -> list[bytes]:
    """``count`` distinct declarations as JSON lines (the relay input)."""
    record = example_record(DECLARATIONS.name)
    values = []
    for index in range(count):
        record["declaration_id"] = f"DEC-RELAY-{index:09d}"
        values.append(dumps(DECLARATIONS.name, record).encode())
    return values


def run(
    records: int = 50_000, bootstrap: str | None = None, partitions: int = 8,
    runs: Sequence[tuple[str, int, str]] = RUNS, timeout_s: float = 120.0,
) -> dict[str, Any]:  # fmt: skip
    """Measure every (engine, workers, mode) in ``runs``; a dict keyed ``"<engine>x<workers>-<mode>"``."""
    values = declaration_values(records)
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        bootstrap = bootstrap or stack.enter_context(EmbeddedBroker(partitions=partitions, topics=())).bootstrap
        for engine, workers, mode in runs:
            key, run_id = f"{engine}x{workers}-{mode}", {"engine": engine, "workers": workers, "mode": mode}
            if engine.startswith("quix") and importlib.util.find_spec("quixstreams") is None:
                results[key] = run_id | {"error": "quixstreams is not installed: pip install -e '.[bench]'"}
                continue
            try:
                results[key] = measure(engine, workers, mode, bootstrap, values, partitions, timeout_s)
            except TimeoutError as exc:
                results[key] = run_id | {"error": str(exc)}
    return results


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the relay benches and print one JSON line per run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--bootstrap", help="use this broker instead of an embedded one")
    parser.add_argument("--engine", choices=ENGINES, action="append", help="only these engines (repeatable)")
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    for name in ("--source", "--sink", "--group", "--status"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return {}
    runs = [run for run in RUNS if not args.engine or run[0] in args.engine]
    results = run(args.records, args.bootstrap, args.partitions, runs)
    for key, figures in results.items():
        emit(f"relay.{key}", **figures)
    return results


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
