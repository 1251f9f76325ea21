"""Simulator throughput: declarations/s of day generation, of record formatting, and end to end.

``python -m zeikan.bench.simulate [--days 5] [--per-day 20000] [--seed 0]`` prints one JSON
line: ``generate_decl_per_s`` (vectorised day generation only: traders, goods, fraud,
containers, policy, scans), ``format_decl_per_s`` (building every JSON line of the day:
declarations, scans, inspection results, truth), ``write_decl_per_s`` (sorting and writing
the files) and ``end_to_end_decl_per_s``. World set-up (drawing the traders) is timed apart.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from zeikan.bench.common import emit, timed
from zeikan.sim.settings import SimSettings
from zeikan.sim.simulate import FILES, day_rows
from zeikan.sim.world import build_world, generate_day
from zeikan.sim.writer import write_sorted


def measure(days: int, per_day: int, seed: int) -> dict[str, float]:
    """Time each stage of a ``days`` x ``per_day`` simulation; returns the figures."""
    settings = SimSettings(seed=seed, days=days, per_day=per_day)
    with timed() as setup:
        world = build_world(settings)
    with timed() as generation:
        generated = [generate_day(world, day) for day in range(days)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        rows: dict[str, list] = {name: [] for name in FILES}
        with timed() as formatting:
            for day in generated:
                for name, part in day_rows(day, settings, out, None).items():
                    rows[name].extend(part)
        with timed() as writing:
            for name, file in FILES.items():
                write_sorted(out / file, rows[name])
    total = days * per_day
    return {
        "declarations": total,
        "world_setup_s": setup.seconds,
        "generate_decl_per_s": generation.rate(total),
        "format_decl_per_s": formatting.rate(total),
        "write_decl_per_s": writing.rate(total),
        "end_to_end_decl_per_s": total / (generation.seconds + formatting.seconds + writing.seconds),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print its JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--per-day", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    emit("simulate", **measure(args.days, args.per_day, args.seed))


if __name__ == "__main__":
    main()
