"""CLI commands of the tabular model: ``train``, ``evaluate``, ``models ls`` and ``models promote``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from zeikan.features.history import load_history
from zeikan.models.registry import DEFAULT_REGISTRY, RISK, ROLES, SEIZURE, ModelRegistry, describe
from zeikan.models.training import TrainSettings, train_seizure, train_tabular

models_app = typer.Typer(help="The model registry: list and promote versions.", no_args_is_help=True)

HISTORY = typer.Option(..., "--history", help="Directory (or fsspec URL) written by `zeikan simulate`.")
REGISTRY = typer.Option(DEFAULT_REGISTRY, "--registry", help="Registry URL (local dir or any fsspec URL).")


def train(
    history: str = HISTORY,
    registry: str = REGISTRY,
    promote: bool = typer.Option(True, "--promote/--no-promote", help="Make the new version live."),
    rounds: int = typer.Option(None, "--rounds", help="Maximum boosting rounds (default from settings)."),
    role: str = typer.Option(RISK, "--role", help=f"What the model is for: {' or '.join(ROLES)} (the container lanes' key)."),
) -> None:
    """Train the risk model (or the seizure key) from declarations and inspection results (never the truth file) and
    register it."""
    if role not in ROLES:
        raise typer.BadParameter(f"{role!r}: use one of {', '.join(ROLES)}", param_hint="--role")
    events = load_history(history)
    trainer = train_seizure if role == SEIZURE else train_tabular
    model = trainer(events, TrainSettings.from_env(num_boost_round=rounds))
    info = ModelRegistry(registry).register(model, events.data_hash, promote=promote, role=role)
    typer.echo(json.dumps({"version": info.version, "role": role, "live": promote, "metrics": info.metrics,
                           "window": info.window, "input": events.rejections.report()}))


def evaluate(
    history: str = HISTORY,
    truth: bool = typer.Option(False, "--truth", help="Label every test declaration with truth.jsonl; add the oracle."),
    test_days: int = typer.Option(14, "--test-days", help="Evaluate on the last N days; train on the rest."),
    report: Path = typer.Option(None, "--report", help="Write the JSON report here."),
    chart: Path = typer.Option(None, "--chart", help="Write the precision@k chart (PNG) here."),
) -> None:
    """Back-test: risk model vs raw-column baseline (and oracle) at 1/2/5/10 % inspection rates."""
    from zeikan.models.evaluation import evaluate_history, write_chart, write_report

    events = load_history(history, with_truth=truth)
    result = evaluate_history(events, test_days=test_days)
    if report:
        write_report(result, str(report))
    if chart:
        write_chart(result, str(chart))
    summary = {name: {"auc": r["auc"], **{k: v["precision"] for k, v in r["at"].items()}}
               for name, r in result["rankings"].items()}
    typer.echo(json.dumps({"label_source": result["label_source"], "oracle_source": result["oracle_source"],
                           "precision": summary,
                           "p5_ratio_to_oracle": result["p5_ratio_to_oracle"],
                           "p5_ratio_to_oracle_observed": result["p5_ratio_to_oracle_observed"],
                           "p5_ratio_to_baseline": result["p5_ratio_to_baseline"],
                           "input": events.rejections.report()}))


@models_app.command("ls")
def list_models(registry: str = REGISTRY) -> None:
    """List registered versions (the live one of each role marked)."""
    reg = ModelRegistry(registry)
    live = {role: reg.live_version(role) for role in ROLES}
    for info in reg.versions():
        typer.echo(json.dumps(describe(info) | {"live": info.version == live[info.role]}))


@models_app.command("promote")
def promote(version: str = typer.Argument(..., help="Version to make live."), registry: str = REGISTRY) -> None:
    """Make a registered version the live model of its role (the stream hot-reloads a risk model)."""
    ModelRegistry(registry).promote(version)
    typer.echo(json.dumps({"live": version}))


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root ``zeikan`` app."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
    app.add_typer(models_app, name="models")
