"""The file contract: files exist, parse, validate, are sorted and reproducible."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from zeikan.schemas.jsonl import from_json
from zeikan.schemas.validation import validate
from zeikan.sim.simulate import FILES, IMAGES_DIR

EVENT_TIME = {"declarations": "filed_at", "scans": "scanned_at", "inspection-results": "inspected_at"}
EVENT_ID = {"declarations": "declaration_id", "scans": "scan_id", "inspection-results": "inspection_id"}


def test_every_file_exists_and_is_not_empty(sim_dir: Path, events: dict[str, list[dict]]) -> None:
    assert (sim_dir / IMAGES_DIR).is_dir()
    for name in FILES:
        assert events[name], name
    assert len(events["declarations"]) == 4 * 600 == len(events["truth"])


@pytest.mark.parametrize("topic", list(EVENT_TIME))
def test_every_record_validates_against_the_contract(events: dict[str, list[dict]], topic: str) -> None:
    for obj in events[topic]:
        validate(topic, from_json(topic, obj))


@pytest.mark.parametrize("topic", list(EVENT_TIME))
def test_files_are_sorted_by_event_time_then_id(events: dict[str, list[dict]], topic: str) -> None:
    keys = [(obj[EVENT_TIME[topic]], obj[EVENT_ID[topic]]) for obj in events[topic]]
    assert keys == sorted(keys)
    assert len({k[1] for k in keys}) == len(keys), "ids are unique"


def test_money_has_two_decimals(sim_dir: Path) -> None:
    line = (sim_dir / FILES["declarations"]).read_text().splitlines()[0]
    value = line.split('"customs_value":')[1].split(",")[0]
    assert len(value.split(".")[1]) == 2


def test_truth_covers_every_declaration(events: dict[str, list[dict]]) -> None:
    assert [t["declaration_id"] for t in events["truth"]] == [d["declaration_id"] for d in events["declarations"]]
    assert set(events["truth"][0]) == {
        "declaration_id", "is_fraud", "fraud_kinds", "revenue_at_risk", "concealment", "fraud_probability",
        "fraud_posterior", "fraud_posterior_observed"}


def test_same_seed_gives_byte_identical_files(sim_dir: Path, run_sim: Callable[..., Path]) -> None:
    again = run_sim()
    for file in FILES.values():
        assert (again / file).read_bytes() == (sim_dir / file).read_bytes(), file


def test_different_seed_gives_different_files(sim_dir: Path, run_sim: Callable[..., Path]) -> None:
    other = run_sim(seed=8)
    for file in FILES.values():
        assert (other / file).read_bytes() != (sim_dir / file).read_bytes(), file


def test_a_shorter_run_is_a_prefix_of_a_longer_one(sim_dir: Path, run_sim: Callable[..., Path]) -> None:
    short = (run_sim(days=2) / FILES["declarations"]).read_text()
    assert (sim_dir / FILES["declarations"]).read_text().startswith(short)
