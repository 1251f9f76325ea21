"""ISO 6346 container ids: the simulator's check digits agree with the contract's."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from zeikan.schemas.validation import check_container_id
from zeikan.sim.containers import container_ids


@given(seed=st.integers(0, 2**32 - 1), day=st.integers(0, 400))
def test_vectorised_check_digits_agree_with_the_contract(seed: int, day: int) -> None:
    assert all(check_container_id(c) for c in container_ids(np.random.default_rng(seed), 50, day=day))


def test_generated_ids_are_valid_and_distinct() -> None:
    ids = container_ids(np.random.default_rng(1), 5_000, day=3)
    assert len(set(ids)) == len(ids)
    assert all(check_container_id(c) for c in ids)


def test_every_container_in_the_files_is_valid(events: dict[str, list[dict]]) -> None:
    ids = {c for d in events["declarations"] for c in d["containers"]} | {s["container_id"] for s in events["scans"]}
    assert ids and all(check_container_id(c) for c in ids)
