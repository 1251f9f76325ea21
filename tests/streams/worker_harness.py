"""Real ``zeikan worker`` subprocesses against a real broker, for the pipeline integration tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from zeikan.schemas.codec import codec_for
from zeikan.streams.kafka.broker import free_port
from zeikan.streams.kafka.kafka_io import publish, record_key

FAST_ENV = {
    "ZEIKAN_SESSION_TIMEOUT_S": "4",
    "ZEIKAN_HEARTBEAT_S": "0.5",
    "ZEIKAN_COMMIT_INTERVAL_S": "0.5",
    "ZEIKAN_OVERDUE_INTERVAL_S": "0.5",
    "ZEIKAN_RULES_CHECK_S": "0.2",
}


class WorkerProcess:
    """One ``zeikan worker`` child process with its own web port and log file."""

    def __init__(self, bootstrap: str, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "worker.log"
        full_env = {**os.environ, **FAST_ENV, "ZEIKAN_BOOTSTRAP": bootstrap, **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zeikan.cli.main", "worker", "--web-port", str(self.port),
             "--workdir", str(workdir), "--loglevel", "INFO"],
            env=full_env, stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT,
        )

    def state(self) -> dict[str, Any] | None:
        """The worker's ``/zeikan/state`` (None while its web server is not up)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/zeikan/state", timeout=2) as resp:
                return json.loads(resp.read())
        except OSError:
            return None

    def wait_caught_up(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Block until the worker's history follower has caught up."""
        state = wait_until(lambda: (s := self.state()) and s["caught_up"] and s, timeout_s, self.log_path)
        return state

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 20 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self) -> str:
        """Everything the worker logged."""
        return self.log_path.read_text(errors="replace")


def wait_until(check: Callable[[], Any], timeout_s: float, log: Path | None = None, every_s: float = 0.25) -> Any:
    """Poll ``check`` until it returns something truthy; fail with the log tail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(every_s)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"condition not met within {timeout_s}s\n{tail}")


def encoded(events: Iterable[tuple[str, dict[str, Any]]]) -> list[tuple[str, bytes, bytes | None]]:
    """(topic, record) -> what ``publish`` sends (Avro value, contract key)."""
    return [(topic, codec_for(topic).encode(rec), record_key(topic, rec)) for topic, rec in events]


def in_event_time_order(history: dict[str, list[dict[str, Any]]], scans: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The history as (topic, record) in the order ``zeikan replay`` folds it."""
    rows = [((d["filed_at"], 0, d["declaration_id"]), "declarations", d) for d in history["declarations"]]
    rows += [((r["inspected_at"], 1, r["inspection_id"]), "inspection-results", r) for r in history["inspection-results"]]
    rows += [((s["scanned_at"], 2, s["scan_id"]), "scans", s) for s in scans]
    rows.sort(key=lambda row: row[0])
    return [(topic, rec) for _, topic, rec in rows]


def publish_events(bootstrap: str, events: list[tuple[str, dict[str, Any]]], rate: float | None = None) -> None:
    """Publish in the given order (optionally at ``rate`` records/s)."""
    publish(bootstrap, encoded(events), rate=rate)


def read_values(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[bytes]:
    """Every record value of ``topic``, up to the high watermarks of the latest fetch responses.

    Reads until each partition's position reaches its high watermark (right on Tansu,
    unlike ListOffsets), never stopping on an idle gap: an idle timeout silently
    returns a partial topic when the machine is busy.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=5000)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for messages in consumer.poll(timeout_ms=200).values():
                values.extend(m.value for m in messages)
            marks = {tp: consumer.highwater(tp) for tp in tps}
            if all(mark is not None and consumer.position(tp) >= mark for tp, mark in marks.items()):
                return values
        raise AssertionError(f"{topic}: could not read up to the high watermarks within {timeout_s}s")
    finally:
        consumer.close()


def read_decoded(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every record of ``topic`` so far, decoded."""
    codec = codec_for(topic)
    return [codec.decode(value) for value in read_values(bootstrap, topic)]


def decision_ids_settle(
    bootstrap: str, expected: int | set[str], timeout_s: float, log: Path | None = None, worker: WorkerProcess | None = None
) -> list[dict[str, Any]]:
    """Wait until ``expected`` distinct decision ids (a count, or these ids) are on ``decisions``; return all decisions."""
    wanted = expected if isinstance(expected, set) else None
    count = len(expected) if isinstance(expected, set) else expected
    seen: list[set[str]] = [set()]

    def check() -> list[dict[str, Any]] | None:
        decisions = read_decoded(bootstrap, "decisions")
        seen[0] = {d["decision_id"] for d in decisions}
        done = wanted <= seen[0] if wanted is not None else len(seen[0]) >= count
        return decisions if done else None

    try:
        return wait_until(check, timeout_s, log, every_s=1.0)
    except AssertionError as exc:
        state = worker.state() if worker else None
        missing = sorted(wanted - seen[0])[:20] if wanted is not None else []
        raise AssertionError(
            f"{len(seen[0])} of {count} decision ids; missing {missing}; worker state {state}\n{exc}"
        ) from None
