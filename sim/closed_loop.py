"""``zeikan simulate --closed-loop``: day by day, zeikan decides and the simulated port acts on its decisions.

The first ``warm_days`` days run under the legacy policy (the history zeikan's
capacity cuts and entity state start from); then each closed-loop day:

1. the port opens the day (its declarations and their hidden truth);
2. every event before the day's end is written to the output directory and
   zeikan's replay engine decides the day (:mod:`zeikan.sim.replay_day`);
3. the port acts on each decision (:class:`zeikan.sim.port.Port`); what it causes
   happens from the next day on, so a day's decisions never depend on the
   consequences of that day's decisions.

After the last day the loop keeps deciding (no new declarations) until every
scan has had its POST_SCAN decision. The directory then holds the file contract
plus ``decisions.jsonl``; ``zeikan replay`` of it yields exactly those decisions.
Same settings, same files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from zeikan.schemas.jsonl import write_jsonl
from zeikan.sim.cargo import RenderImages
from zeikan.sim.ids import day_tag, declaration_id
from zeikan.sim.port import Port, next_day
from zeikan.sim.replay_day import DayDecider
from zeikan.sim.settings import SimSettings
from zeikan.sim.simulate import FILES, IMAGES_DIR, day_rows
from zeikan.sim.world import Day, build_world, generate_day
from zeikan.sim.writer import Row, declaration_rows, truth_rows, write_sorted

DECISIONS_FILE = "decisions.jsonl"
MAX_DRAIN_DAYS = 30
"""Most days decided after the last one while scans are still due."""


@dataclass(frozen=True)
class LoopResult:
    """What a closed-loop run produced: the legacy days, the port (with its inspections), zeikan's decisions."""

    out_dir: Path
    warm_days: int
    days: int
    port: Port
    legacy: list[Day]
    """The closed-loop days as the legacy policy would have inspected them (same declarations)."""
    decisions: list[dict]
    counts: dict[str, int]


def _events_before(rows: list[Row], end_ms: int) -> list[Row]:
    return [row for row in rows if row[0] < end_ms]


def run_closed_loop(
    settings: SimSettings,
    warm_days: int,
    out_dir: Path,
    decide: DayDecider,
    render_images: RenderImages | None = None,
    on_day: Callable[[int], None] | None = None,
) -> LoopResult:
    """Simulate ``warm_days`` legacy days then ``settings.days`` closed-loop days into ``out_dir``."""
    world = build_world(replace(settings, days=warm_days + settings.days))
    images_dir = out_dir / IMAGES_DIR
    images_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[Row]] = {name: [] for name in FILES}
    for index in range(warm_days):
        for name, part in day_rows(generate_day(world, index), world.settings, images_dir, None).items():
            rows[name].extend(part)
    port = Port(world, images_dir if render_images else None, render_images, earliest=next_day)
    legacy: list[Day] = []
    decisions: list[dict] = []
    last = warm_days + settings.days
    index = warm_days
    while index < last or (index < last + MAX_DRAIN_DAYS and _scans_due(rows["scans"], world.settings.day_start_ms(index))):
        start, end = world.settings.day_start_ms(index), world.settings.day_start_ms(index + 1)
        if index < last:
            day = port.open_day(index)
            legacy.append(day)
            ids = [declaration_id(day_tag(world.settings.start, index), k) for k in range(len(day))]
            rows["declarations"].extend(declaration_rows(day, ids))
            rows["truth"].extend(truth_rows(day, ids))
        for name in ("declarations", "scans", "inspection-results"):
            write_sorted(out_dir / FILES[name], _events_before(rows[name], end))
        today = decide(out_dir, start, end)
        decisions.extend(today)
        for event in (e for d in today for e in port.act(d)):
            rows[event.topic].append(event.row)
        if on_day is not None:
            on_day(index)
        index += 1
    counts = {name: write_sorted(out_dir / FILES[name], rows[name]) for name in FILES}
    counts["decisions"] = write_jsonl(out_dir / DECISIONS_FILE, "decisions", decisions)
    return LoopResult(out_dir=out_dir, warm_days=warm_days, days=settings.days, port=port, legacy=legacy,
                      decisions=decisions, counts=counts)


def _scans_due(scans: list[Row], from_ms: int) -> bool:
    return any(row[0] >= from_ms for row in scans)
