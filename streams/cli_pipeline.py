"""``zeikan replay | worker | run``: the decision pipeline offline, as a worker, and end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from zeikan.schemas.jsonl import write_jsonl
from zeikan.streams.engine.rules import RuleFile
from zeikan.streams.settings import DEFAULT_RULES, load_engine_config


def replay_command(
    history: Annotated[Path, typer.Option("--history", help="directory with declarations.jsonl etc.")],
    out: Annotated[Path, typer.Option("--out", help="where to write one Decision per line")],
    rules: Annotated[Path, typer.Option(help="officer rule file")] = DEFAULT_RULES,
    engine_config: Annotated[Optional[Path], typer.Option(help="EngineConfig YAML")] = None,
) -> None:
    """Run the stream's decision logic over a history directory in event-time order."""
    from zeikan.streams.engine.config import EngineConfig
    from zeikan.streams.replay import replay

    config = load_engine_config(engine_config) if engine_config else EngineConfig()
    decisions, history = replay(history, RuleFile(rules).book, config)
    count = write_jsonl(out, "decisions", decisions)
    skipped = sum(history.invalid.values())
    typer.echo(
        f"{count} decisions from {len(history.declarations)} declarations, {len(history.inspections)} "
        f"inspection results, {len(history.scans)} scans ({skipped} invalid lines skipped) -> {out}",
        err=True,
    )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root ``zeikan`` app."""
    app.command("replay")(replay_command)
