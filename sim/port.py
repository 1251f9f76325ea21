"""A simulated port that obeys zeikan's decisions: it scans what zeikan sends to SCAN and inspects what it selects.

The port knows the hidden truth of every declaration of the days it has opened
(:meth:`Port.open_day`). Given one Decision record, :meth:`Port.act` returns the
events the port produces because of it, with their event times:

* PRE_ARRIVAL ``SCAN`` with containers: each container not yet scanned is scanned
  after its arrival (``ScanCompleted``; its X-ray image rendered into the image
  store when a renderer is given); the inspection result follows zeikan's POST_SCAN
  decision;
* PRE_ARRIVAL ``DOCUMENT_CHECK`` / ``PHYSICAL_EXAM`` (and ``SCAN`` of loose cargo):
  one inspection of that type;
* POST_SCAN ``RELEASE`` (or ``SCAN``: no image score, held for an analyst): the scan
  officer's reading of the image (a ``SCAN`` inspection); POST_SCAN ``PHYSICAL_EXAM``:
  a physical examination.

Outcomes are drawn from the truth with each inspection type's detection rates
(:data:`zeikan.sim.policy.DETECTION`: a document check never finds concealment, a
scan finds most concealment, a physical exam finds most of everything). Every
result carries ``inspection_id`` and the decision's ``random_selected``, so zeikan
learns from its own selections. Draws are keyed by (seed, day, declaration,
stage): the port is deterministic whatever order the decisions come in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from zeikan.sim.cargo import RenderImages, container_loads
from zeikan.sim.catalog import OFFICES, SCANNER_ENERGY
from zeikan.sim.ids import day_tag, declaration_id, inspection_id, scan_id
from zeikan.sim.policy import DOCUMENT, PHYSICAL, SCAN, Findings, Selection, inspect
from zeikan.sim.world import DAY_MS, HOUR_MS, VISIBLE_LINK_SHARE, Day, Scans, World, generate_day
from zeikan.sim.writer import Row, inspection_rows, scan_rows

PRE_ARRIVAL_INSPECTION = {"DOCUMENT_CHECK": DOCUMENT, "SCAN": SCAN, "PHYSICAL_EXAM": PHYSICAL}
"""Inspection type of a PRE_ARRIVAL selection (``SCAN`` of containers waits for the POST_SCAN decision)."""
POST_SCAN_INSPECTION = {"RELEASE": SCAN, "SCAN": SCAN, "PHYSICAL_EXAM": PHYSICAL}
"""Inspection type that follows a POST_SCAN decision (the image reading, or a physical exam); a POST_SCAN
``SCAN`` is a scan with no image score held for an analyst, who reads the image (``image_review_action``)."""
OFFICER_HOURS = {DOCUMENT: 1.0, SCAN: 0.5, PHYSICAL: 4.0}
"""Officer time of one inspection of each type, hours (a scan's image reading is quick)."""
DELAY_HOURS = {DOCUMENT: (2.0, 48.0), SCAN: (0.5, 12.0), PHYSICAL: (12.0, 96.0)}
"""Hours from arrival (or from the POST_SCAN decision) to the inspection result, by type."""
SCAN_AFTER_ARRIVAL_HOURS = (0.5, 6.0)
_STAGE_CODE = {"PRE_ARRIVAL": 0, "POST_SCAN": 1}


def same_time(decided_at: int) -> int:
    """Earliest time of a decision's consequences when the port reacts at once (the live demo)."""
    return decided_at + 60_000


def next_day(decided_at: int) -> int:
    """Earliest time of a decision's consequences when zeikan decides day by day (closed-loop files)."""
    return (decided_at // DAY_MS + 1) * DAY_MS


@dataclass(frozen=True)
class PortEvent:
    """One event the port publishes: topic (``scans`` or ``inspection-results``) and its file-contract row."""

    topic: str
    row: Row

    @property
    def event_time(self) -> int:
        """Event time (epoch ms)."""
        return self.row[0]

    @property
    def record(self) -> dict[str, Any]:
        """The event as a record (Avro field names)."""
        return json.loads(self.row[2])


@dataclass
class _Ledger:
    """What the port has done to one day's declarations (arrays indexed like the Day)."""

    day: Day
    ids: list[str]
    inspection_type: np.ndarray
    random_selected: np.ndarray
    found: np.ndarray
    outcome: np.ndarray
    revenue: np.ndarray
    inspected_at: np.ndarray
    scanned: dict[int, int] = field(default_factory=dict)
    """container slot -> scan time."""

    @classmethod
    def of(cls, day: Day, ids: list[str]) -> _Ledger:
        n = len(day)
        return cls(day=day, ids=ids, inspection_type=np.full(n, -1), random_selected=np.zeros(n, dtype=bool),
                   found=np.zeros(n, dtype=np.int64), outcome=np.zeros(n, dtype=np.int64),
                   revenue=np.zeros(n), inspected_at=np.zeros(n, dtype=np.int64))

    def view(self) -> Day:
        """The day as the port has inspected it (for the writer's row builders)."""
        return replace(
            self.day, selection=Selection(self.inspection_type, self.random_selected),
            findings=Findings(self.found, self.outcome, self.revenue), inspected_at=self.inspected_at,
        )


class Port:
    """The port's scanners and inspection teams, acting on zeikan's decisions."""

    def __init__(
        self,
        world: World,
        images_dir: Path | None = None,
        render_images: RenderImages | None = None,
        earliest: Callable[[int], int] = same_time,
    ) -> None:
        """``earliest(decision_time)`` bounds the event time of a decision's consequences from below."""
        self.world = world
        self._images_dir = images_dir
        self._render = render_images if images_dir is not None else None
        self._earliest = earliest
        self._days: dict[str, _Ledger] = {}

    def open_day(self, index: int) -> Day:
        """Generate day ``index`` of the world (its declarations and truth) and take charge of it."""
        day = generate_day(self.world, index)
        tag = day_tag(self.world.settings.start, index)
        self._days[tag] = _Ledger.of(day, [declaration_id(tag, k) for k in range(len(day))])
        return day

    def inspected(self, index: int) -> Day:
        """Day ``index`` with the port's inspections in place of the legacy policy's."""
        return self._days[day_tag(self.world.settings.start, index)].view()

    def act(self, decision: Mapping[str, Any]) -> list[PortEvent]:
        """The scans and inspection results that ``decision`` causes (empty for a release or an unknown declaration)."""
        decl_id = str(decision["declaration_id"])
        ledger = self._days.get(decl_id[1:7])
        if ledger is None:
            return []
        k = int(decl_id[7:])
        stage, action = str(decision["stage"]), str(decision["action"])
        rng = np.random.default_rng(np.random.SeedSequence(
            [self.world.settings.seed, 7, ledger.day.index, k, _STAGE_CODE.get(stage, 2)]))
        earliest = self._earliest(int(decision["event_time"]))
        has_containers = ledger.day.containers.ptr[k + 1] > ledger.day.containers.ptr[k]
        if stage == "PRE_ARRIVAL" and action == "SCAN" and has_containers:
            return self._scan(ledger, k, rng, earliest)
        kind = (PRE_ARRIVAL_INSPECTION if stage == "PRE_ARRIVAL" else POST_SCAN_INSPECTION).get(action)
        if kind is None or ledger.inspection_type[k] >= 0:
            return []
        start = int(ledger.day.expected_arrival[k]) if stage == "PRE_ARRIVAL" else int(decision["event_time"])
        at = max(earliest, start + int(rng.uniform(*DELAY_HOURS[kind]) * HOUR_MS))
        return [self._inspect(ledger, k, kind, bool(decision["random_selected"]), at, rng)]

    def _inspect(self, ledger: _Ledger, k: int, kind: int, random_selected: bool, at: int, rng: np.random.Generator) -> PortEvent:
        fraud = ledger.day.fraud
        one = Selection(np.array([kind]), np.array([random_selected]))
        findings = inspect(rng, one, fraud.kinds[k : k + 1], fraud.revenue_by_kind[k : k + 1])
        ledger.inspection_type[k], ledger.random_selected[k] = kind, random_selected
        ledger.found[k], ledger.outcome[k] = findings.found[0], findings.outcome[0]
        ledger.revenue[k], ledger.inspected_at[k] = findings.revenue_recovered[0], at
        tag = ledger.ids[k][1:7]
        (row,) = inspection_rows(ledger.view(), [k], [inspection_id(tag, k)], ledger.ids)
        return PortEvent("inspection-results", row)

    def _scan(self, ledger: _Ledger, k: int, rng: np.random.Generator, earliest: int) -> list[PortEvent]:
        day = ledger.day
        slots = day.containers.slots[day.containers.ptr[k] : day.containers.ptr[k + 1]]
        fresh = [int(c) for c in slots if int(c) not in ledger.scanned]
        if not fresh:
            return []
        members = day.members(np.array(fresh))
        office = OFFICES[int(day.office[k])]
        scanners = [office.scanners[int(rng.integers(0, len(office.scanners)))] for _ in fresh]
        times = []
        for c in fresh:
            arrival = max(int(day.expected_arrival[d]) for d in members[c])
            times.append(max(earliest, arrival + int(rng.uniform(*SCAN_AFTER_ARRIVAL_HOURS) * HOUR_MS)))
        index = {name: i + 1 for i, name in enumerate(office.scanners)}
        scans = Scans(
            container=np.array(fresh), scanned_at=np.array(times, dtype=np.int64),
            scanner=[f"{office.office_id}-{m}-{index.get(m, 1)}" for m in scanners], model=scanners,
            energy=[SCANNER_ENERGY[m] for m in scanners], names_declarations=rng.random(len(fresh)) < VISIBLE_LINK_SHARE,
        )
        view = replace(day, scans=scans)
        tag = ledger.ids[k][1:7]
        ids = [scan_id(tag, c) for c in fresh]
        images: dict[str, tuple[str, str]] = {}
        if self._render is not None and self._images_dir is not None:
            images = dict(self._render(container_loads(view, ids, ledger.ids), self._images_dir))
        for c, t in zip(fresh, times):
            ledger.scanned[c] = t
        return [PortEvent("scans", row) for row in scan_rows(view, ids, ledger.ids, images)]
