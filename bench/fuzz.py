"""Fuzz bench: hostile messages of every kind mixed with good declarations into a live worker.

``python -m zeikan.bench.fuzz [--bad 10000] [--good 4000] [--worker-python PY]`` starts an
embedded broker and one ``zeikan worker`` subprocess (a black box: only ``ZEIKAN_BOOTSTRAP``
and its web port are given), sends the bad messages of :mod:`zeikan.schemas.hostile`
(:data:`HEAVY_KINDS` a few times each) shuffled among good declarations, then reads
``decisions`` and ``dead-letters`` back until nothing new arrives and prints JSON lines:

* ``fuzz_kind`` per kind: sent, dead-lettered, with the expected error kind, decided, missing;
* ``fuzz``: sent, decided, dead-lettered, lost (good without a decision + bad with neither a
  dead letter nor a decision), bad_decided (bad that got a decision instead), crashes (worker
  exits; the worker is restarted) and tracebacks in the worker log;
* ``fuzz_refusal``: the cost of refusing the 12 MB, 540,000-item declaration with the limits
  vs decoding it (fastavro, no limits), time and peak traced memory (under tracemalloc, which
  slows the decode), and what the walk costs per good declaration, measured in this run.

Bad messages are matched to dead letters by source position (topic, partition, offset).
``--worker-python`` runs the worker of another checkout (e.g. ``/work/main/.venv/bin/python``)
to measure before and after.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import fastavro
from kafka import KafkaProducer

from zeikan.bench.common import emit, http_get, timed
from zeikan.schemas.avro_walk import compile_walker
from zeikan.schemas.codec import codec_for, expanded_schema, load_schema
from zeikan.schemas.contract import DEAD_LETTERS, DECISIONS, DECLARATIONS
from zeikan.schemas.errors import ValidationError
from zeikan.schemas.hostile import HEAVY_KINDS, HOSTILE_KINDS, good_declaration, hostile
from zeikan.schemas.limits import DEFAULT_LIMITS, Limits
from zeikan.streams.kafka.broker import EmbeddedBroker, free_port
from zeikan.streams.kafka.kafka_io import read_topic

BIG_BYTES = 50_000
"""Kinds whose messages are larger than this are sent at most ``--big-each`` times."""
OUTPUT_LIMITS = Limits(max_record_bytes=64 * 2**20, max_string_bytes=64 * 2**20)
"""Reading the worker's outputs back: any size it managed to write."""


@dataclass(frozen=True)
class Sent:
    """One message sent: what it was and where it landed."""

    kind: str
    expect: str
    topic: str
    partition: int
    offset: int
    declaration_id: str


def plan(n_bad: int, n_good: int, heavy_each: int, big_each: int, now_ms: int, seed: int,
         shuffle_good: bool = False) -> list[tuple[str, str, Any]]:
    """``(kind, expect, (topic, key, value))`` for every message to send, shuffled; kind ``good`` for good ones,
    filed 1 s apart from two hours ago and sent in filing order unless ``shuffle_good``."""
    rng = random.Random(seed)
    messages: list[tuple[str, str, Any]] = []
    light = [k for k in HOSTILE_KINDS if k not in HEAVY_KINDS]
    big = {k for k in light if len(hostile(k, 0, now_ms).value) > BIG_BYTES}
    counts = {k: heavy_each for k in HEAVY_KINDS} | {k: big_each for k in big}
    rest = [k for k in light if k not in big]
    left = n_bad - sum(counts.values())
    for index, kind in enumerate(rest):
        counts[kind] = left // len(rest) + (1 if index < left % len(rest) else 0)
    serial = 0
    for kind, count in counts.items():
        for _ in range(count):
            serial += 1
            bad = hostile(kind, serial, now_ms, rng)
            messages.append((kind, bad.expect, (bad.topic, bad.key, bad.value)))
    codec = codec_for(DECLARATIONS.name)
    start = now_ms - 2 * 3_600_000
    good = []
    for i in range(n_good):
        record = good_declaration(i, start + i * 1_000)
        good.append(("good", "", (DECLARATIONS.name, record["declaration_id"].encode(), codec.encode(record))))
    if shuffle_good:
        rng.shuffle(good)
    slots: list[Any] = messages + [None] * n_good
    rng.shuffle(slots)
    in_order = iter(good)
    return [slot if slot is not None else next(in_order) for slot in slots]


def send(bootstrap: str, messages: list[tuple[str, str, Any]]) -> list[Sent]:
    """Send every message (up to 16 MiB each) and return where each landed."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, max_request_size=16 * 2**20,
                             linger_ms=5, acks=1, request_timeout_ms=60_000)
    try:
        futures = [(kind, expect, topic, key, producer.send(topic, value=value, key=key))
                   for kind, expect, (topic, key, value) in messages]
        producer.flush()
        sent = []
        for kind, expect, topic, key, future in futures:
            meta = future.get(timeout=60)
            sent.append(Sent(kind, expect, topic, meta.partition, meta.offset, (key or b"").decode(errors="replace")))
        return sent
    finally:
        producer.close()


class Worker:
    """The ``zeikan worker`` black box: started, watched, restarted when it exits."""

    def __init__(self, python: str, bootstrap: str, workdir: Path) -> None:
        self.python, self.bootstrap, self.workdir = python, bootstrap, workdir
        self.port = free_port()
        self.log_path = workdir / "worker.log"
        self.exits: list[int] = []
        self.process = self._start()

    def _start(self) -> subprocess.Popen:
        env = {**os.environ, "ZEIKAN_BOOTSTRAP": self.bootstrap}
        return subprocess.Popen(
            ["nice", "-n", "19", self.python, "-m", "zeikan.cli.main", "worker", "--web-port", str(self.port),
             "--workdir", str(self.workdir / "state")],
            env=env, cwd=self.workdir, stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if http_get(self.port, "/healthz")[0] == 200:
                return
            self.check()
            time.sleep(1)
        raise RuntimeError(f"worker not up within {timeout_s}s; see {self.log_path}")

    def check(self) -> None:
        """Count an exit and restart the worker."""
        code = self.process.poll()
        if code is not None:
            self.exits.append(code)
            self.process = self._start()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def outcomes(bootstrap: str) -> tuple[dict[str, int], dict[tuple[str, int, int], str]]:
    """(declaration id -> decisions, source position -> dead-letter kind) read from the output topics."""
    decided: Counter[str] = Counter()
    for rec in read_topic(bootstrap, DECISIONS.name, from_beginning=True, idle_timeout_s=3):
        try:
            decided[codec_for(DECISIONS.name).decode(rec.value, OUTPUT_LIMITS)["declaration_id"]] += 1
        except ValidationError:
            decided["<undecodable decision>"] += 1
    letters: dict[tuple[str, int, int], str] = {}
    for rec in read_topic(bootstrap, DEAD_LETTERS.name, from_beginning=True, idle_timeout_s=3):
        letter = codec_for(DEAD_LETTERS.name).decode(rec.value, OUTPUT_LIMITS)
        letters[(letter["source_topic"], letter["partition"], letter["offset"])] = letter["error_kind"]
    return dict(decided), letters


def settle(bootstrap: str, worker: Worker, sent: list[Sent], idle_s: float, timeout_s: float) -> tuple[dict, dict]:
    """Read outputs until every message has one, nothing new came for ``idle_s``, or ``timeout_s`` passed."""
    deadline = time.monotonic() + timeout_s
    last_change, last_total = time.monotonic(), -1
    while True:
        worker.check()
        decided, letters = outcomes(bootstrap)
        total = sum(decided.values()) + len(letters)
        if total != last_total:
            last_change, last_total = time.monotonic(), total
        done = all((s.topic, s.partition, s.offset) in letters or s.declaration_id in decided for s in sent)
        now = time.monotonic()
        if done or now - last_change > idle_s or now > deadline:
            return decided, letters
        time.sleep(5)


def report(sent: list[Sent], decided: dict[str, int], letters: dict[tuple[str, int, int], str],
           exits: list[int], worker_log: str, seconds: float) -> dict[str, Any]:
    """Print one ``fuzz_kind`` line per kind and the ``fuzz`` summary (``exits``: the worker's exit codes)."""
    per_kind: dict[str, Counter[str]] = {}
    for s in sent:
        row = per_kind.setdefault(s.kind, Counter())
        row["sent"] += 1
        kind = letters.get((s.topic, s.partition, s.offset))
        is_decided = s.declaration_id in decided and s.topic == DECLARATIONS.name
        if s.kind == "good":
            row["decided" if is_decided else ("dead_lettered" if kind else "lost")] += 1
            continue
        if kind is not None:
            row["dead_lettered"] += 1
            row["as_expected" if kind == s.expect else f"as_{kind}"] += 1
        elif is_decided:
            row["decided"] += 1
        else:
            row["lost"] += 1
    for kind in sorted(per_kind):
        emit("fuzz_kind", kind=kind, expect=next((s.expect for s in sent if s.kind == kind), ""), **per_kind[kind])
    bad = [row for kind, row in per_kind.items() if kind != "good"]
    good = per_kind.get("good", Counter())
    return emit(
        "fuzz",
        kinds=len(bad), sent=len(sent), sent_bad=sum(r["sent"] for r in bad), sent_good=good["sent"],
        good_decided=good["decided"], good_dead_lettered=good["dead_lettered"], good_lost=good["lost"],
        bad_dead_lettered=sum(r["dead_lettered"] for r in bad),
        bad_dead_lettered_as_expected=sum(r["as_expected"] for r in bad),
        bad_decided=sum(r["decided"] for r in bad), bad_lost=sum(r["lost"] for r in bad),
        lost=good["lost"] + sum(r["lost"] for r in bad),
        crashes=len(exits), exit_codes=exits,
        log_tracebacks=worker_log.count("Traceback"),
        log_message_too_large=worker_log.count("MessageSizeTooLarge"),
        seconds=seconds,
    )


def refusal_cost(now_ms: int) -> dict[str, Any]:
    """Refusing the 540,000-item declaration with the limits vs decoding it without, in this process."""
    value = hostile("items_540000", 1, now_ms).value
    codec = codec_for(DECLARATIONS.name)
    roomy = Limits(max_record_bytes=64 * 2**20)
    figures: dict[str, Any] = {"bytes": len(value)}
    for name, run in (("refuse_by_size", lambda: codec.decode(value)),
                      ("refuse_by_count", lambda: codec.decode(value, roomy)),
                      ("fastavro_decode", lambda: fastavro.schemaless_reader(
                          BytesIO(value[10:]), load_schema(DECLARATIONS.name), None))):
        tracemalloc.start()
        with timed() as t:
            try:
                run()
            except ValidationError:
                pass
        figures[f"{name}_ms"] = t.seconds * 1000
        figures[f"{name}_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    figures["decode_vs_refuse_time_ratio"] = figures["fastavro_decode_ms"] / max(figures["refuse_by_count_ms"], 1e-6)
    good = codec.encode(good_declaration(1, now_ms))
    walk = compile_walker(expanded_schema(DECLARATIONS.name))
    reader = load_schema(DECLARATIONS.name)
    runs = 20_000
    for name, run in (("walk_only", lambda: walk(good, 10, DEFAULT_LIMITS)),
                      ("codec_decode", lambda: codec.decode(good)),
                      ("fastavro_only", lambda: fastavro.schemaless_reader(BytesIO(good[10:]), reader, None))):
        with timed() as t:
            for _ in range(runs):
                run()
        figures[f"{name}_us_per_good_declaration"] = t.seconds / runs * 1e6
    figures["walk_share_of_codec_decode"] = (figures["walk_only_us_per_good_declaration"]
                                             / figures["codec_decode_us_per_good_declaration"])
    return emit("fuzz_refusal", **figures)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the fuzz bench (see the module docstring) and return the summary figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bad", type=int, default=10_000)
    parser.add_argument("--good", type=int, default=4_000)
    parser.add_argument("--heavy-each", type=int, default=2, help="messages of each multi-megabyte kind")
    parser.add_argument("--big-each", type=int, default=20, help=f"messages of each kind over {BIG_BYTES} bytes")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--worker-python", default=sys.executable, help="python of the checkout whose worker runs")
    parser.add_argument("--idle-s", type=float, default=90.0, help="stop reading after this long without new output")
    parser.add_argument("--timeout-s", type=float, default=900.0)
    parser.add_argument("--skip-refusal", action="store_true")
    parser.add_argument("--shuffle-good", action="store_true", help="send good declarations out of filing order")
    args = parser.parse_args(argv)
    now_ms = int(time.time() * 1000)
    if not args.skip_refusal:
        refusal_cost(now_ms)
    messages = plan(args.bad, args.good, args.heavy_each, args.big_each, now_ms, args.seed, args.shuffle_good)
    with TemporaryDirectory(prefix="zeikan-fuzz-") as tmp, \
            EmbeddedBroker(port=0, partitions=8, log_path=Path(tmp) / "tansu.log") as broker:
        worker = Worker(args.worker_python, broker.bootstrap, Path(tmp))
        try:
            worker.wait_ready()
            started = time.monotonic()
            sent = send(broker.bootstrap, messages)
            decided, letters = settle(broker.bootstrap, worker, sent, args.idle_s, args.timeout_s)
            return report(sent, decided, letters, worker.exits, worker.log_text(), time.monotonic() - started)
        finally:
            worker.stop()


if __name__ == "__main__":
    main()
