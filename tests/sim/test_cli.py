"""``zeikan simulate`` on the command line, and bad settings as one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from zeikan.errors import ZeikanError
from zeikan.sim.cli import register
from zeikan.sim.errors import SimSettingError
from zeikan.sim.settings import SimSettings
from zeikan.sim.simulate import FILES


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps "simulate" a sub-command
    return app


def test_simulate_command_writes_the_file_contract(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(), ["simulate", "--out", str(tmp_path), "--days", "2", "--per-day", "50", "--seed", "3",
                 "--fraud-rate", "0.06", "--start", "2026-03-01"],
    )
    assert result.exit_code == 0, result.output
    assert "100 declarations" in result.output
    for file in FILES.values():
        assert (tmp_path / file).exists()
    assert (tmp_path / FILES["declarations"]).read_text().startswith('{"declaration_id":"D260301')


@pytest.mark.parametrize(
    "overrides", [{"per_day": 0}, {"days": 0}, {"fraud_rate": 0.0}, {"fraud_rate": 0.9}, {"seed": -1}]
)
def test_out_of_range_settings_are_zeikan_errors(overrides: dict) -> None:
    with pytest.raises(SimSettingError) as info:
        SimSettings(**overrides)
    assert isinstance(info.value, ZeikanError)
    assert "\n" not in str(info.value) and next(iter(overrides)) in str(info.value)
