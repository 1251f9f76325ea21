"""The true content of scanned containers: the public hook for the X-ray image renderer.

For every scan the simulator builds a :class:`ContainerLoad` (what is really inside the
container, what was declared, how contraband is hidden) and hands the day's loads to
an optional :data:`RenderImages` callable, which writes images and returns their URIs
and sha256 digests.

Example::

    def render(loads: list[ContainerLoad], images_dir: Path) -> dict[str, tuple[str, str]]:
        return {load.scan_id: (f"file://{images_dir}/{load.scan_id}.tiff", "<sha256>") for load in loads}

    simulate(settings, out_dir, render_images=render)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zeikan.sim.catalog import CONCEALMENTS, GOODS, MATERIALS, UNITS
from zeikan.sim.fraud import Lines
from zeikan.sim.world import Day


@dataclass(frozen=True)
class CargoGoods:
    """Goods of one declaration line (or one concealed package) inside one container."""

    hs_code: str
    description: str
    quantity: float
    quantity_unit: str
    gross_weight_kg: float
    material: str
    """One of :data:`zeikan.sim.catalog.MATERIALS`: organic, metal, electronics, textile, liquid, tobacco, mineral, plastic."""


@dataclass(frozen=True)
class ContainerLoad:
    """What one scan sees: the container's true load next to its declared load.

    A declaration spread over k containers contributes 1/k of each line to each of them;
    concealed goods sit in the first container of the cheating declaration.
    """

    scan_id: str
    container_id: str
    scanner_id: str
    scanner_model: str
    """Model of the scanner (see ``zeikan.sim.catalog.SCANNER_ENERGY``); several units per office."""
    energy: str
    """SINGLE or DUAL."""
    length_ft: int
    """20 or 40."""
    declaration_ids: tuple[str, ...]
    true_goods: tuple[CargoGoods, ...]
    """Everything inside, concealed goods included (last)."""
    declared_goods: tuple[CargoGoods, ...]
    concealment: str | None
    """None, or one of :data:`zeikan.sim.catalog.CONCEALMENTS` (dense_package, organic_package, in_wall, in_floor)."""
    concealed: CargoGoods | None
    """The hidden goods alone (also in ``true_goods``), None when nothing is hidden."""


RenderImages = Callable[[list[ContainerLoad], Path], dict[str, tuple[str, str]]]
"""``render_images(loads, images_dir) -> {scan_id: (image_uri, image_sha256)}``."""


def _goods(lines: Lines, i: int, share: float) -> CargoGoods:
    g = int(lines.goods[i])
    return CargoGoods(
        hs_code=GOODS.hs_code[g], description=GOODS.description[g],
        quantity=round(float(lines.quantity[i]) * share, 3), quantity_unit=UNITS[GOODS.unit[g]],
        gross_weight_kg=round(float(lines.weight_kg[i]) * share, 1), material=MATERIALS[GOODS.material[g]],
    )


def container_loads(day: Day, scan_ids: list[str], declaration_ids: list[str]) -> list[ContainerLoad]:
    """The true and declared load of every scan of ``day`` (in scan order)."""
    members = day.members(day.scans.container)
    n_containers = np.diff(day.containers.ptr)
    first_container = day.containers.slots[np.minimum(day.containers.ptr[:-1], len(day.containers.slots) - 1)]
    loads = []
    for k, c in enumerate(day.scans.container.tolist()):
        true_goods, declared_goods, hidden, how = [], [], None, None
        for d in members[c]:
            share = 1.0 / int(n_containers[d])
            for i in range(day.item_ptr[d], day.item_ptr[d + 1]):
                true_goods.append(_goods(day.truth, i, share))
                declared_goods.append(_goods(day.declared, i, share))
            if day.fraud.concealment[d] >= 0 and first_container[d] == c:
                hidden, how = _hidden(day, d), CONCEALMENTS[day.fraud.concealment[d]]
        loads.append(ContainerLoad(
            scan_id=scan_ids[k], container_id=day.container_id[c], scanner_id=day.scans.scanner[k],
            scanner_model=day.scans.model[k],
            energy=day.scans.energy[k], length_ft=int(day.containers.length_ft[c]),
            declaration_ids=tuple(declaration_ids[d] for d in members[c]),
            true_goods=tuple(true_goods + ([hidden] if hidden else [])), declared_goods=tuple(declared_goods),
            concealment=how, concealed=hidden,
        ))
    return loads


def _hidden(day: Day, d: int) -> CargoGoods:
    g = int(day.fraud.hidden_goods[d])
    return CargoGoods(
        hs_code=GOODS.hs_code[g], description=GOODS.description[g], quantity=float(day.fraud.hidden_quantity[d]),
        quantity_unit=UNITS[GOODS.unit[g]], gross_weight_kg=float(day.fraud.hidden_kg[d]),
        material=MATERIALS[GOODS.material[g]],
    )
