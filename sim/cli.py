"""``zeikan simulate``: write a synthetic customs history (the CLI file contract)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.progress import Progress

from zeikan.models.registry import DEFAULT_REGISTRY
from zeikan.sim.cargo import RenderImages
from zeikan.sim.settings import SimSettings
from zeikan.sim.simulate import simulate
from zeikan.streams.settings import DEFAULT_RULES


def image_renderer() -> RenderImages | None:
    """THE place where the X-ray image renderer is plugged in (owned by the image helper).

    Returns ``render_images(loads, images_dir) -> {scan_id: (image_uri, image_sha256)}``,
    or None to write scans with ``image_uri`` ``unrendered://<scan_id>`` and an empty ``image_sha256``.
    """
    from zeikan.sim.xray import render_images

    return render_images


def _closed_loop(settings: SimSettings, out: Path, warm_days: int, registry: str, rules: Path, images: bool) -> None:
    from zeikan.sim.closed_loop import run_closed_loop
    from zeikan.sim.replay_day import replay_decider
    from zeikan.streams.engine.config import EngineConfig
    from zeikan.streams.engine.rules import RuleFile

    if warm_days < 1:
        raise typer.BadParameter("--warm-days must be at least 1 (zeikan needs a history to start from)")
    decide = replay_decider(RuleFile(rules).book, EngineConfig(), registry)
    with Progress(transient=True) as progress:
        task = progress.add_task("closed loop: zeikan decides, the port acts", total=settings.days)
        result = run_closed_loop(settings, warm_days, out, decide, image_renderer() if images else None,
                                 on_day=lambda _day: progress.advance(task))
    counts = ", ".join(f"{n} {name}" for name, n in result.counts.items())
    typer.echo(f"wrote {counts} to {result.out_dir} ({warm_days} legacy days, then {settings.days} closed-loop days)")


def register(app: typer.Typer) -> None:
    """Add ``simulate`` to the root ``zeikan`` app."""

    @app.command("simulate")
    def simulate_command(
        out: Path = typer.Option(..., "--out", help="Output directory (created; files are overwritten)."),
        days: int = typer.Option(7, "--days", help="Number of days to simulate."),
        seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same files."),
        per_day: int = typer.Option(2000, "--per-day", help="Declarations filed per day."),
        fraud_rate: float = typer.Option(0.05, "--fraud-rate", help="Target share of fraudulent declarations."),
        start: datetime = typer.Option("2026-01-01", "--start", formats=["%Y-%m-%d"], help="First day (UTC)."),
        images: bool = typer.Option(True, "--images/--no-images", help="Render X-ray images of the scans into DIR/images."),
        closed_loop: bool = typer.Option(
            False, "--closed-loop", help="The port obeys zeikan: day by day, the replay engine decides and the port "
            "scans and inspects what it selected (writes DIR/decisions.jsonl too).",
        ),
        warm_days: int = typer.Option(7, "--warm-days", help="With --closed-loop: legacy-policy days first (the warm history)."),
        registry: str = typer.Option(DEFAULT_REGISTRY, "--registry", help="With --closed-loop: registry whose live model decides."),
        rules: Path = typer.Option(DEFAULT_RULES, "--rules", help="With --closed-loop: officer rule file."),
    ) -> None:
        """Simulate declarations, scans, inspection results and the hidden truth."""
        settings = SimSettings(seed=seed, days=days, per_day=per_day, fraud_rate=fraud_rate, start=start.date())
        if closed_loop:
            _closed_loop(settings, out, warm_days, registry, rules, images)
            return
        with Progress(transient=True) as progress:
            task = progress.add_task("simulating days", total=days)
            summary = simulate(settings, out, render_images=image_renderer() if images else None,
                               on_day=lambda _day: progress.advance(task))
        counts = ", ".join(f"{n} {name}" for name, n in summary.counts.items())
        typer.echo(f"wrote {counts} to {summary.out_dir}")
