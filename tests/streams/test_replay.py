"""``zeikan replay`` over history files: determinism, POST_SCAN joins, bad input."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from typer.testing import CliRunner

from tests.cli.test_cli_kafka import zeikan

from tests.streams.pipeline_factories import DAY, history, scan
from zeikan.schemas.jsonl import write_jsonl
from zeikan.cli.main import app
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.rules import EMPTY_RULES
from zeikan.streams.errors import HistoryError
from zeikan.streams.replay import replay


def write_history(directory, days=3, per_day=150, seed=4, with_scans=True):
    hist = history(days, per_day, seed)
    directory.mkdir(parents=True, exist_ok=True)
    write_jsonl(directory / "declarations.jsonl", "declarations", hist["declarations"])
    write_jsonl(directory / "inspection-results.jsonl", "inspection-results", hist["inspection-results"])
    scans = []
    if with_scans:
        for n, decl in enumerate(hist["declarations"]):
            if n % 4 == 0:
                scans.append(scan(n, decl["containers"][0], decl["filed_at"] + DAY // 3))
        write_jsonl(directory / "scans.jsonl", "scans", scans)
    return hist, scans


def test_replay_is_deterministic_and_joins_scans(tmp_path):
    write_history(tmp_path / "h")
    first = list(replay(tmp_path / "h", EMPTY_RULES, EngineConfig())[0])
    second = list(replay(tmp_path / "h", EMPTY_RULES, EngineConfig())[0])
    assert first == second
    stages = Counter(d["stage"] for d in first)
    assert stages["PRE_ARRIVAL"] == 450
    scanned = {d["declaration_id"] for d in first if d["stage"] == "PRE_ARRIVAL" and d["action"] == "SCAN"}
    post = [d for d in first if d["stage"] == "POST_SCAN"]
    assert post and {d["declaration_id"] for d in post} <= scanned
    # the factories' scans name no stored image: refused, so held for an analyst, never released
    assert all(d["scores"]["image"] is None and d["action"] == "SCAN" and "analyst review" in d["reasons"][-1] for d in post)
    assert len({d["decision_id"] for d in first}) == len(first)


def test_replay_cli_writes_decisions_and_skips_bad_lines(tmp_path):
    write_history(tmp_path / "h", days=1, per_day=40, with_scans=False)
    with open(tmp_path / "h" / "declarations.jsonl", "a") as handle:
        handle.write('{"declaration_id": "broken"}\nnot json\n')
    out = tmp_path / "decisions.jsonl"
    result = CliRunner().invoke(app, ["replay", "--history", str(tmp_path / "h"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 40 and "2 invalid lines skipped" in result.output
    assert "declarations.jsonl: " in result.output, "the top reasons name file and field"


def test_replay_stops_with_one_line_when_most_lines_are_rejected(tmp_path):
    write_history(tmp_path / "h", days=1, per_day=10, with_scans=False)
    with open(tmp_path / "h" / "declarations.jsonl", "a") as handle:
        handle.write('{"declaration_id": "broken"}\n' * 20)
    code, _, said = zeikan("replay", "--history", str(tmp_path / "h"), "--out", str(tmp_path / "d.jsonl"))
    assert code == 1
    assert len(said.strip().splitlines()) == 1 and "Traceback" not in said
    assert "20 of 30" in said and "declarations.jsonl" in said and "filed_at" in said


def test_replay_without_declarations_is_a_clear_error(tmp_path):
    with pytest.raises(HistoryError, match="no declarations.jsonl"):
        replay(tmp_path, EMPTY_RULES, EngineConfig())


def test_a_growing_replay_fed_window_by_window_decides_as_a_full_replay(tmp_path):
    from tests.streams.pipeline_factories import T0
    from zeikan.streams.replay import GrowingReplay

    write_history(tmp_path / "h")
    full = list(replay(tmp_path / "h", EMPTY_RULES, EngineConfig())[0])
    growing = GrowingReplay(tmp_path / "h", EMPTY_RULES, EngineConfig())
    windows = [growing.until(T0 + day * DAY) for day in (1, 2, 5)]
    assert all(windows) and [d for window in windows for d in window] == full
    with pytest.raises(ValueError, match="before the instant already decided"):
        growing.until(T0 + 4 * DAY)
    hist, _ = write_history(tmp_path / "h", days=4)
    with pytest.raises(ValueError, match="changed since they were decided"):
        growing.until(T0 + 6 * DAY)
