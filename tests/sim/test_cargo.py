"""The image hook: ContainerLoad per scan, and what the renderer returns lands in scans.jsonl."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from zeikan.sim.cargo import ContainerLoad
from zeikan.sim.catalog import CONCEALMENTS, MATERIALS
from zeikan.sim.settings import SimSettings
from zeikan.sim.simulate import FILES, simulate
from zeikan.sim.writer import unrendered_uri


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[ContainerLoad]]:
    """A run with a fake renderer that records the loads it was given."""
    seen: list[ContainerLoad] = []

    def render(loads: list[ContainerLoad], images_dir: Path) -> dict[str, tuple[str, str]]:
        seen.extend(loads)
        return {
            load.scan_id: ((images_dir / f"{load.scan_id}.tiff").as_uri(), hashlib.sha256(load.scan_id.encode()).hexdigest())
            for load in loads
        }

    out = tmp_path_factory.mktemp("rendered")
    simulate(SimSettings(seed=11, days=3, per_day=800, fraud_rate=0.08), out, render_images=render)
    return out, seen


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_scan_gets_its_rendered_image(rendered: tuple[Path, list[ContainerLoad]]) -> None:
    out, loads = rendered
    scans = _lines(out / FILES["scans"])
    assert len(scans) == len(loads) > 0
    by_id = {load.scan_id: load for load in loads}
    for scan in scans:
        load = by_id[scan["scan_id"]]
        assert scan["container_id"] == load.container_id and scan["scanner_id"] == load.scanner_id
        assert scan["energy"] == load.energy
        assert scan["image_sha256"] == hashlib.sha256(scan["scan_id"].encode()).hexdigest()
        assert scan["image_uri"].endswith(f"{scan['scan_id']}.tiff")


def test_loads_hold_true_and_declared_goods(rendered: tuple[Path, list[ContainerLoad]]) -> None:
    out, loads = rendered
    truth = {t["declaration_id"]: t for t in _lines(out / FILES["truth"])}
    concealed = [load for load in loads if load.concealment]
    assert concealed, "some scanned containers hide contraband"
    for load in loads:
        assert load.length_ft in (20, 40) and load.declaration_ids
        assert all(g.material in MATERIALS for g in load.true_goods + load.declared_goods)
        if load.concealment:
            assert load.concealment in CONCEALMENTS and load.concealed is not None
            assert load.true_goods[-1] == load.concealed
            assert len(load.true_goods) == len(load.declared_goods) + 1
            assert any(truth[d]["concealment"] for d in load.declaration_ids)
        else:
            assert load.concealed is None and len(load.true_goods) == len(load.declared_goods)


def test_without_a_renderer_scans_say_the_image_is_missing(events: dict[str, list[dict]]) -> None:
    for scan in events["scans"]:
        assert scan["image_uri"] == unrendered_uri(scan["scan_id"]) and scan["image_sha256"] == ""
