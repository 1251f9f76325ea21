"""Fixtures of the simulator tests: small runs written once per session (factories for more)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from zeikan.sim.settings import SimSettings
from zeikan.sim.simulate import FILES, simulate

SMALL = SimSettings(seed=7, days=4, per_day=600)
"""The shared run: 2,400 declarations, enough for rates, fast to write."""


@pytest.fixture(scope="session")
def run_sim(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: ``run_sim(**settings)`` simulates into a fresh directory and returns it."""

    def run(**overrides: object) -> Path:
        settings = SimSettings(**{**SMALL.__dict__, **overrides})
        out = tmp_path_factory.mktemp("sim")
        simulate(settings, out)
        return out

    return run


@pytest.fixture(scope="session")
def sim_dir(run_sim: Callable[..., Path]) -> Path:
    """The directory of the shared small run."""
    return run_sim()


@pytest.fixture(scope="session")
def events(sim_dir: Path) -> dict[str, list[dict]]:
    """The shared run's files, parsed: file key (see ``FILES``) -> list of JSON objects."""
    return {
        name: [json.loads(line) for line in (sim_dir / file).read_text().splitlines()]
        for name, file in FILES.items()
    }
