"""One registry, models named by role: the risk model and the seizure key each have their live version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from model_history import write_history
from zeikan.cli.main import app
from zeikan.features.history import load_history
from zeikan.models.errors import NoLiveModelError
from zeikan.models.registry import RISK, SEIZURE, ModelRegistry, live_file
from zeikan.models.training import TrainSettings, train_seizure, train_tabular
from zeikan.streams.serving.promoted import base_version
from zeikan.streams.serving.scoring import build_seizure_scorer

FAST = TrainSettings(num_boost_round=20, early_stopping_rounds=5)
runner = CliRunner()


@pytest.fixture(scope="module")
def history_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_history(tmp_path_factory.mktemp("history"), days=20)


def test_each_role_has_its_own_live_version(history_dir: Path, tmp_path: Path) -> None:
    events = load_history(str(history_dir))
    reg = ModelRegistry(str(tmp_path / "reg"))
    risk = reg.register(train_tabular(events, FAST), events.data_hash, promote=True, created_at=0)
    seizure = reg.register(train_seizure(events, FAST), events.data_hash, promote=True, created_at=0, role=SEIZURE)
    assert risk.version != seizure.version, "same data and instant, another role: another version"
    assert reg.live_version() == reg.live_version(RISK) == risk.version
    assert reg.live_version(SEIZURE) == seizure.version
    assert reg.load_live(SEIZURE)[0].role == SEIZURE and reg.load_live()[0].role == RISK
    assert [i.version for i in reg.versions(SEIZURE)] == [seizure.version] and len(reg.versions()) == 2
    assert base_version(reg) == risk.version, "continuous learning starts from a risk model, never the seizure key"
    assert build_seizure_scorer(reg.url).version == seizure.version
    reg.promote(risk.version)
    assert reg.live_version(SEIZURE) == seizure.version, "promoting a risk model leaves the seizure key live"


def test_without_a_seizure_key_the_registry_serves_none(history_dir: Path, tmp_path: Path) -> None:
    events = load_history(str(history_dir))
    reg = ModelRegistry(str(tmp_path / "reg"))
    reg.register(train_tabular(events, FAST), events.data_hash, promote=True)
    assert build_seizure_scorer(reg.url) is None
    with pytest.raises(NoLiveModelError):
        reg.load_live(SEIZURE)


def test_metadata_written_before_roles_reads_as_the_risk_model(history_dir: Path, tmp_path: Path) -> None:
    events = load_history(str(history_dir))
    reg = ModelRegistry(str(tmp_path / "reg"))
    version = reg.register(train_tabular(events, FAST), events.data_hash).version
    meta = tmp_path / "reg" / version / "metadata.json"
    meta.write_text(json.dumps({k: v for k, v in json.loads(meta.read_text()).items() if k != "role"}))
    assert reg.info(version).role == RISK
    reg.promote(version)
    assert (tmp_path / "reg" / "LIVE").read_text().strip() == version


def test_an_unknown_role_is_refused(history_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown model role"):
        live_file("customs")
    result = runner.invoke(app, ["train", "--history", str(history_dir), "--registry", str(tmp_path / "r"), "--role", "x"])
    assert result.exit_code != 0 and "--role" in result.output and not (tmp_path / "r").exists()


def test_train_cli_registers_the_seizure_key_beside_the_live_risk_model(history_dir: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEIKAN_TRAIN_NUM_BOOST_ROUND", "20")
    registry = str(tmp_path / "reg")
    first = runner.invoke(app, ["train", "--history", str(history_dir), "--registry", registry])
    second = runner.invoke(app, ["train", "--history", str(history_dir), "--registry", registry, "--role", "seizure"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    reg = ModelRegistry(registry)
    assert reg.live_version() == json.loads(first.output)["version"]
    assert reg.live_version(SEIZURE) == json.loads(second.output)["version"]
    listed = [json.loads(line) for line in runner.invoke(app, ["models", "ls", "--registry", registry]).output.splitlines()]
    assert sorted((row["role"], row["live"]) for row in listed) == [(RISK, True), (SEIZURE, True)]


def test_the_seizure_key_is_the_risk_objective_with_seizures_weighted_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from zeikan.models import training

    seen: list[TrainSettings] = []
    monkeypatch.setattr(training, "train_tabular", lambda history, settings: seen.append(settings))
    train_seizure(None, TrainSettings(finding_weights=("ORIGIN:4",)))  # type: ignore[arg-type]
    assert seen[0].finding_weights == ("ORIGIN:4", "CONCEALMENT:20")
