"""Run a whole simulation: generate every day, render images (optional), write the file contract.

Writes ``declarations.jsonl``, ``scans.jsonl``, ``inspection-results.jsonl``,
``truth.jsonl`` and ``images/`` under the output directory. Same settings =>
byte-identical files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zeikan.sim.cargo import RenderImages, container_loads
from zeikan.sim.ids import day_tag, declaration_id, inspection_id, scan_id
from zeikan.sim.settings import SimSettings
from zeikan.sim.world import Day, build_world, generate_day
from zeikan.sim.writer import Row, declaration_rows, inspected_order, inspection_rows, scan_rows, truth_rows, write_sorted

FILES: dict[str, str] = {
    "declarations": "declarations.jsonl",
    "scans": "scans.jsonl",
    "inspection-results": "inspection-results.jsonl",
    "truth": "truth.jsonl",
}
"""Output file of each stream (topic name, plus the hidden ``truth``)."""
IMAGES_DIR = "images"


@dataclass(frozen=True)
class SimSummary:
    """What a run wrote: line counts per file."""

    out_dir: Path
    counts: dict[str, int]


def day_rows(day: Day, settings: SimSettings, images_dir: Path, render_images: RenderImages | None) -> dict[str, list[Row]]:
    """All output rows of one generated day, keyed like :data:`FILES`."""
    tag = day_tag(settings.start, day.index)
    decl_ids = [declaration_id(tag, k) for k in range(len(day))]
    scan_ids = [scan_id(tag, k) for k in range(len(day.scans.container))]
    order = inspected_order(day)
    inspection_ids = [inspection_id(tag, k) for k in range(len(order))]
    images: dict[str, tuple[str, str]] = {}
    if render_images is not None and scan_ids:
        images = render_images(container_loads(day, scan_ids, decl_ids), images_dir)
    return {
        "declarations": declaration_rows(day, decl_ids),
        "scans": scan_rows(day, scan_ids, decl_ids, images),
        "inspection-results": inspection_rows(day, order, inspection_ids, decl_ids),
        "truth": truth_rows(day, decl_ids),
    }


def simulate(
    settings: SimSettings,
    out_dir: Path,
    render_images: RenderImages | None = None,
    on_day: Callable[[int], None] | None = None,
) -> SimSummary:
    """Simulate ``settings.days`` days into ``out_dir``; ``on_day(day)`` is called after each day."""
    world = build_world(settings)
    images_dir = out_dir / IMAGES_DIR
    images_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list[Row]] = {name: [] for name in FILES}
    for index in range(settings.days):
        for name, day_part in day_rows(generate_day(world, index), settings, images_dir, render_images).items():
            rows[name].extend(day_part)
        if on_day is not None:
            on_day(index)
    counts = {name: write_sorted(out_dir / FILES[name], rows[name]) for name in FILES}
    return SimSummary(out_dir=out_dir, counts=counts)
