"""ISO 6346 container ids: the simulator's check digits agree with the contract's."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from zeikan.schemas.validation import check_container_id, container_check_digit
from zeikan.sim.containers import _check_digit, container_ids


@given(owner=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3), serial=st.integers(0, 999_999))
def test_check_digit_agrees_with_the_contract(owner: str, serial: int) -> None:
    code = f"{owner}U{serial:06d}"
    assert _check_digit(code) == container_check_digit(code)


def test_known_container_id() -> None:
    assert _check_digit("CSQU305438") == 3


def test_generated_ids_are_valid_and_distinct() -> None:
    ids = container_ids(np.random.default_rng(1), 5_000, day=3)
    assert len(set(ids)) == len(ids)
    assert all(check_container_id(c) for c in ids)


def test_every_container_in_the_files_is_valid(events: dict[str, list[dict]]) -> None:
    ids = {c for d in events["declarations"] for c in d["containers"]} | {s["container_id"] for s in events["scans"]}
    assert ids and all(check_container_id(c) for c in ids)
