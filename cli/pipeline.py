"""``zeikan replay | worker | run``: the decision pipeline offline, as a worker, and end to end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from zeikan.models.registry import DEFAULT_REGISTRY
from zeikan.schemas.jsonl import write_jsonl
from zeikan.streams.engine.rules import RuleFile
from zeikan.streams.settings import DEFAULT_RULES, LearningSettings, WorkerSettings, kafka_settings, load_engine_config


def replay_command(
    history: Annotated[Path, typer.Option("--history", help="directory with declarations.jsonl etc.")],
    out: Annotated[Path, typer.Option("--out", help="where to write one Decision per line")],
    rules: Annotated[Path, typer.Option(help="officer rule file")] = DEFAULT_RULES,
    engine_config: Annotated[Optional[Path], typer.Option(help="EngineConfig YAML")] = None,
    registry: Annotated[str, typer.Option(help="model registry URL (its live model scores)")] = DEFAULT_REGISTRY,
    shadow: Annotated[Optional[str], typer.Option(help="candidate model version(s), comma-separated, scored beside the live one")] = None,
    learning: Annotated[Optional[bool], typer.Option(
        "--learning/--no-learning", help="recompute the workers' continuous learning (default ZEIKAN_LEARNING; "
        "its ZEIKAN_LEARN_* and ZEIKAN_TRAIN_* settings must be the workers')")] = None,
    promotions: Annotated[Optional[Path], typer.Option(help="with --learning: write each boundary's model-promotions record here")] = None,
) -> None:
    """Run the stream's decision logic over a history directory in event-time order."""
    from zeikan.streams.engine.config import EngineConfig
    from zeikan.streams.replay import replay

    config = load_engine_config(engine_config) if engine_config else EngineConfig()
    settings = LearningSettings.from_env(enabled=learning)
    records: list[dict] = []
    decisions, history = replay(history, RuleFile(rules).book, config, registry, shadow, settings, records)
    count = write_jsonl(out, "decisions", decisions)
    if settings.enabled:
        promoted = sum(1 for r in records if r["promoted"])
        typer.echo(f"continuous learning: {len(records)} boundaries, {promoted} promotions"
                   f"{' -> ' + str(promotions) if promotions else ''}", err=True)
        if promotions is not None:
            write_jsonl(promotions, "model-promotions", records)
    rejections = history.rejections
    reasons = "; ".join(f"{r['reason']}: {r['lines']}" for r in rejections.top())
    typer.echo(
        f"{count} decisions from {len(history.declarations)} declarations, {len(history.inspections)} "
        f"inspection results, {len(history.scans)} scans ({rejections.total} invalid lines skipped"
        f"{': ' + reasons if reasons else ''}) -> {out}",
        err=True,
    )


def worker_command(
    bootstrap: Annotated[Optional[str], typer.Option(help="Kafka host:port (default ZEIKAN_BOOTSTRAP)")] = None,
    web_port: Annotated[Optional[int], typer.Option(help="web server port: /metrics, /healthz, /zeikan/state")] = None,
    workdir: Annotated[Optional[str], typer.Option(help="directory for local files")] = None,
    rules: Annotated[Optional[str], typer.Option(help="officer rule file (hot-reloaded)")] = None,
    app_id: Annotated[Optional[str], typer.Option(help="consumer group / internal topic prefix")] = None,
    registry: Annotated[Optional[str], typer.Option(help="model registry URL (default ZEIKAN_REGISTRY or var/registry)")] = None,
    shadow: Annotated[Optional[str], typer.Option(
        help="candidate model version(s), comma-separated: scored beside the live model into shadow_scores, never acted on",
    )] = None,
    loglevel: Annotated[str, typer.Option(help="log level")] = "WARNING",
) -> None:
    """Run one pipeline worker (Faust) until SIGTERM / Ctrl-C; start several to share partitions."""
    from zeikan.streams.worker import run_worker

    settings = WorkerSettings.from_env(web_port=web_port, workdir=workdir, rules_path=rules, app_id=app_id,
                                       registry=registry, shadow_model=shadow)
    run_worker(settings, kafka_settings(bootstrap), loglevel)


def run_command(
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
    history: Annotated[Optional[Path], typer.Option(help="history to publish (default: simulate one day)")] = None,
    per_day: Annotated[int, typer.Option(help="declarations of the simulated day")] = 2000,
    seed: Annotated[int, typer.Option(help="simulation seed")] = 7,
    speed: Annotated[float, typer.Option(help="event time runs this many times faster than real time")] = 720.0,
    web_port: Annotated[int, typer.Option(help="web port of the first worker (next ones +1)")] = 6066,
    workdir: Annotated[Path, typer.Option(help="logs and generated files")] = Path("var/run"),
    registry: Annotated[str, typer.Option(help="model registry URL (a model is trained into it if none is live)")] = DEFAULT_REGISTRY,
    train_days: Annotated[int, typer.Option(help="days of simulated history to train the first model on")] = 30,
    train_per_day: Annotated[int, typer.Option(help="declarations per day of that history")] = 500,
    days: Annotated[int, typer.Option(help="simulated days published after the warm history")] = 1,
    images: Annotated[bool, typer.Option("--images/--no-images", help="render the port's X-ray scans")] = True,
    ui_port: Annotated[int, typer.Option(help="port of the officers' web app")] = 8080,
) -> None:
    """Broker + worker(s) + simulated days in accelerated time, the port obeying zeikan, a live view (trains a model first if none is live)."""
    started = time.monotonic()
    from zeikan.cli.run import RunSettings, run_pipeline

    if days < 1 or speed <= 0:
        raise typer.BadParameter("--days must be at least 1 and --speed positive")
    settings = RunSettings(workers=workers, history=history, per_day=per_day, seed=seed, speed=speed, web_port=web_port,
                           workdir=workdir, registry=registry, train_days=train_days, train_per_day=train_per_day,
                           ui_port=ui_port, days=days, images=images)
    run_pipeline(settings, started)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root ``zeikan`` app."""
    app.command("replay")(replay_command)
    app.command("worker")(worker_command)
    app.command("run")(run_command)
