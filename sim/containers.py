"""Containers: ISO 6346 ids and the assignment of declarations to containers.

Full-container-load (FCL) declarations get one or more containers of their own (heavy
consignments span several); less-than-container-load (LCL) sea cargo is consolidated:
declarations arriving on the same vessel at the same office share one container.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zeikan.schemas.reference import ISO6346_LETTER_VALUES
from zeikan.sim.catalog import CONTAINER_OWNERS
from zeikan.sim.errors import SimTooLargeError

_SERIALS_PER_OWNER_DAY = 10_000


def container_ids(rng: np.random.Generator, n: int, day: int) -> list[str]:
    """``n`` distinct, check-digit-valid container ids for one day (unique over 100 days)."""
    capacity = len(CONTAINER_OWNERS) * _SERIALS_PER_OWNER_DAY
    if n > capacity:
        raise SimTooLargeError(n, capacity)
    draws = rng.choice(capacity, size=n, replace=False)
    owners = draws // _SERIALS_PER_OWNER_DAY
    serials = (day % 100) * _SERIALS_PER_OWNER_DAY + draws % _SERIALS_PER_OWNER_DAY
    owner_sum = np.array([sum(ISO6346_LETTER_VALUES[c] << i for i, c in enumerate(o + "U")) for o in CONTAINER_OWNERS])
    digits = (serials[:, None] // 10 ** np.arange(5, -1, -1)[None, :]) % 10
    check = (owner_sum[owners] + (digits << np.arange(4, 10)[None, :]).sum(axis=1)) % 11 % 10
    return [f"{CONTAINER_OWNERS[o]}U{s:06d}{c}" for o, s, c in zip(owners.tolist(), serials.tolist(), check.tolist())]


@dataclass(frozen=True)
class Assignment:
    """Which containers each declaration uses (CSR) and each container's length."""

    ptr: np.ndarray
    """Declaration d uses containers ``slots[ptr[d]:ptr[d+1]]``."""
    slots: np.ndarray
    length_ft: np.ndarray
    """20 or 40, per container."""


def assign_containers(
    rng: np.random.Generator, has_container: np.ndarray, lcl: np.ndarray, group_key: np.ndarray, weight_kg: np.ndarray
) -> Assignment:
    """Give containers to declarations.

    ``has_container`` marks containerised declarations, ``lcl`` those consolidated:
    LCL declarations with equal ``group_key`` (office, vessel) are packed 2-5 to a
    container in random order; FCL ones get ``ceil(weight / load)`` containers (1-8).
    """
    fcl = has_container & ~lcl
    load = rng.uniform(23_000.0, 28_000.0, len(weight_kg))
    n_fcl = np.where(fcl, np.clip(np.ceil(weight_kg / load), 1, 8), 0).astype(np.int64)
    fcl_start = np.cumsum(n_fcl) - n_fcl
    n_fcl_total = int(n_fcl.sum())

    lcl_idx = np.flatnonzero(lcl)
    order = lcl_idx[np.lexsort((rng.random(len(lcl_idx)), group_key[lcl_idx]))]
    new_group = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        same_key = group_key[order[1:]] == group_key[order[:-1]]
        new_group[1:] = ~same_key | (rng.random(len(order) - 1) < 1 / 3.5)
    group_of = np.empty(len(weight_kg), dtype=np.int64)
    group_of[order] = n_fcl_total + np.cumsum(new_group) - 1
    n_total = n_fcl_total + int(new_group.sum())

    counts = np.where(lcl, 1, n_fcl)
    ptr = np.concatenate(([0], np.cumsum(counts)))
    owner = np.repeat(np.arange(len(counts)), counts)
    offset = np.arange(ptr[-1]) - ptr[owner]
    slots = np.where(lcl[owner], group_of[owner], fcl_start[owner] + offset)
    length = np.where(rng.random(n_total) < 0.65, 40, 20)
    return Assignment(ptr=ptr, slots=slots, length_ft=length)
