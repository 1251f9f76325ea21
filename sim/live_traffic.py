"""The traffic of ``zeikan run``: a warm history in fast forward, then paced days whose port obeys zeikan.

:class:`DemoTraffic` publishes, in event-time order:

1. the warm start: the history's declarations and inspection results before the
   first demo day, as fast as the broker takes them (capacity cuts and entity
   state are warm before day one);
2. the demo days at ``speed`` x real time: their declarations, the history's
   inspection results that fall in that time, and what the port does because of
   zeikan's decisions (:class:`zeikan.sim.port.Port`, fed by :meth:`DemoTraffic.offer`):
   scans (images rendered into the image store) and inspection results.

It keeps the figures the live view shows (:class:`LoopTally`): inspections and hits
per lane (selected against random), seizures and revenue recovered, and what the
legacy policy found on the same declarations by the same event time.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zeikan.schemas.codec import codec_for
from zeikan.schemas.jsonl import parse_line
from zeikan.sim.cargo import RenderImages
from zeikan.sim.ids import day_tag, declaration_id
from zeikan.sim.policy import SEIZURE
from zeikan.sim.port import Port
from zeikan.sim.settings import SimSettings
from zeikan.sim.world import build_world
from zeikan.sim.writer import declaration_rows
from zeikan.streams.kafka.kafka_io import publish, record_key
from zeikan.streams.engine.replay import event_order, read_history

_TOPIC = {"declaration": "declarations", "inspection": "inspection-results"}
WARM_BATCH = 500


@dataclass
class LoopTally:
    """What the loop achieved so far (updated by the publisher and port threads, read by the view)."""

    clock_ms: int = 0
    demo_start_ms: int = 0
    lanes: dict[str, str] = field(default_factory=dict)
    """declaration -> its PRE_ARRIVAL lane."""
    inspected: Counter = field(default_factory=Counter)
    """(lane, random_selected) -> inspections published."""
    hits: Counter = field(default_factory=Counter)
    """(lane, random_selected) -> inspections that found something."""
    seizures: int = 0
    revenue: float = 0.0
    legacy_inspections: int = 0
    legacy_seizures: int = 0
    legacy_revenue: float = 0.0
    scans: int = 0

    def on_result(self, record: Mapping[str, Any]) -> None:
        """Count one inspection result the port published."""
        key = (self.lanes.get(str(record["declaration_id"]), "?"), bool(record["random_selected"]))
        self.inspected[key] += 1
        if record["outcome"] != "NO_FINDING":
            self.hits[key] += 1
        self.seizures += record["outcome"] == "SEIZURE"
        self.revenue += float(record["revenue_recovered"])


class DemoTraffic:
    """Publishes the warm history, then the demo days paced, with the port acting on zeikan's decisions."""

    def __init__(self, world: SimSettings, first_day: int, days: int, history_dir: Path, images_dir: Path | None,
                 render_images: RenderImages | None, speed: float, tail_ms: int) -> None:
        self.port = Port(build_world(world), images_dir, render_images)
        self.tally = LoopTally(demo_start_ms=world.day_start_ms(first_day))
        self._speed = speed
        self._end_ms = world.day_start_ms(first_day + days) + tail_ms
        self._history_dir = history_dir
        self._decisions: queue.Queue = queue.Queue()
        self._heap: list[tuple[int, int, str, dict[str, Any]]] = []
        self._serial = itertools.count()
        self._lock = threading.Lock()
        self._legacy: list[tuple[int, int, float]] = []
        for index in range(first_day, first_day + days):
            day = self.port.open_day(index)
            ids = [declaration_id(day_tag(world.start, index), k) for k in range(len(day))]
            for at, _id, line in declaration_rows(day, ids):
                self._push(at, "declarations", parse_line("declarations", line))
            inspected = np.flatnonzero(day.selection.inspection_type >= 0)
            self._legacy += [(int(day.inspected_at[k]), int(day.findings.outcome[k]), float(day.findings.revenue_recovered[k]))
                             for k in inspected.tolist()]
        self._legacy.sort()

    def offer(self, decision: Mapping[str, Any]) -> None:
        """Hand one of zeikan's decisions to the port (any thread)."""
        if int(decision["event_time"]) >= self.tally.demo_start_ms:
            if decision["stage"] == "PRE_ARRIVAL":
                self.tally.lanes[str(decision["declaration_id"])] = str(decision["action"])
            self._decisions.put(dict(decision))

    def run_port(self, stop: threading.Event) -> None:
        """The port's thread: acts on each decision offered (rendering scans takes time) and queues the events."""
        while not stop.is_set():
            try:
                decision = self._decisions.get(timeout=0.2)
            except queue.Empty:
                continue
            for event in self.port.act(decision):
                self._push(event.event_time, event.topic, event.record)

    def _push(self, at: int, topic: str, record: dict[str, Any]) -> None:
        with self._lock:
            heapq.heappush(self._heap, (at, next(self._serial), topic, record))

    def _due(self, clock_ms: int) -> list[tuple[str, dict[str, Any]]]:
        out = []
        with self._lock:
            while self._heap and self._heap[0][0] <= clock_ms:
                _, _, topic, record = heapq.heappop(self._heap)
                out.append((topic, record))
        return out

    def warm_start(self, bootstrap: str, stop: threading.Event) -> int:
        """Publish the history before the first demo day at once; later history results join the paced stream."""
        published, batch = 0, []
        for key, kind, record in event_order(read_history(self._history_dir)):
            if kind not in _TOPIC or stop.is_set():
                continue
            topic = _TOPIC[kind]
            if key[0] >= self.tally.demo_start_ms:
                self._push(key[0], topic, dict(record))
                continue
            batch.append((topic, codec_for(topic).encode(dict(record)), record_key(topic, dict(record))))
            if len(batch) >= WARM_BATCH:
                published += publish(bootstrap, batch)
                batch = []
        if batch:
            published += publish(bootstrap, batch)
        return published

    def run(self, bootstrap: str, stop: threading.Event, on_published: Callable[[int], None] | None = None) -> None:
        """Publish the demo days paced at ``speed`` until the end (plus the tail) or ``stop``."""
        with self._lock:
            first = self._heap[0][0] if self._heap else self.tally.demo_start_ms
        started = time.monotonic()
        legacy = iter(self._legacy)
        pending_legacy = next(legacy, None)
        while not stop.is_set():
            clock = int(first + (time.monotonic() - started) * self._speed * 1000)
            self.tally.clock_ms = clock
            due = self._due(clock)
            if due:
                batch = [(t, codec_for(t).encode(r), record_key(t, r)) for t, r in due]
                count = publish(bootstrap, batch)
                for topic, record in due:
                    if topic == "scans":
                        self.tally.scans += 1
                    elif topic == "inspection-results" and str(record["declaration_id"]) in self.tally.lanes:
                        self.tally.on_result(record)
                if on_published is not None:
                    on_published(count)
            while pending_legacy is not None and pending_legacy[0] <= clock:
                self.tally.legacy_inspections += 1
                self.tally.legacy_seizures += pending_legacy[1] == SEIZURE
                self.tally.legacy_revenue += pending_legacy[2]
                pending_legacy = next(legacy, None)
            if clock >= self._end_ms:
                return
            stop.wait(0.05)
