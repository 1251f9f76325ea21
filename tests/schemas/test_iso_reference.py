"""Reference data: ISO 6346 check digits, ISO 3166 / ISO 4217 code sets, HS code helpers."""

from __future__ import annotations

import pytest

from zeikan.schemas.reference import (
    COUNTRIES,
    CURRENCIES,
    hs_chapter,
    hs_heading,
    hs_subheading,
    is_hs_code,
    make_container_id,
)
from zeikan.schemas.validation import check_container_id, container_check_digit

# CSQU3054383 is the standard's worked example; the others were checked by hand, e.g.
# MAEU000000: 24 + 10*2 + 15*4 + 32*8 = 360 = 32*11 + 8 -> MAEU0000008.
GOOD_IDS = ["CSQU3054383", "MSKU9070323", "TGHU1234567", "MAEU0000008", "ABCU0000022"]


@pytest.mark.parametrize("cid", GOOD_IDS)
def test_known_good_container_ids_pass(cid: str) -> None:
    assert check_container_id(cid)


@pytest.mark.parametrize(
    "cid",
    [
        "CSQU3054384",  # wrong check digit
        "CSQU305438",  # no check digit
        "CSQA3054383",  # category must be U, J or Z
        "csqu3054383",  # lower case
        "CSQU 3054383",  # space
        "CS1U3054383",  # digit in the owner code
        "CSQU30543833",  # too long
        "",
    ],
)
def test_bad_container_ids_fail(cid: str) -> None:
    assert not check_container_id(cid)


def test_check_digit_of_remainder_ten_is_zero() -> None:
    # Find a serial whose weighted sum leaves remainder 10 (computed here independently).
    base = next(f"CSQU{n:06d}" for n in range(1000) if _weighted_sum(f"CSQU{n:06d}") % 11 == 10)
    assert container_check_digit(base) == 0
    assert check_container_id(base + "0")


def _weighted_sum(owner_serial10: str) -> int:
    values = {c: v for c, v in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                                   [10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24, 25, 26, 27,
                                    28, 29, 30, 31, 32, 34, 35, 36, 37, 38])}
    return sum((values[c] if c.isalpha() else int(c)) * 2**i for i, c in enumerate(owner_serial10))


def test_check_digit_of_csqu305438_is_3() -> None:
    assert container_check_digit("CSQU305438") == 3


def test_check_digit_rejects_malformed_input() -> None:
    with pytest.raises(ValueError):
        container_check_digit("CSQU30543")


def test_make_container_id_builds_valid_ids() -> None:
    assert make_container_id("CSQU", 305438) == "CSQU3054383"
    assert all(check_container_id(make_container_id("ZKNU", n)) for n in range(0, 10**6, 9973))


def test_country_and_currency_sets_are_the_real_ones() -> None:
    assert len(COUNTRIES) == 249
    assert {"JP", "CN", "US", "DE", "SS", "XK"} & COUNTRIES == {"JP", "CN", "US", "DE", "SS"}
    assert {"JPY", "USD", "EUR", "CNY", "XOF"} <= CURRENCIES
    assert not {"XXX", "XTS", "XAU", "DEM", "US"} & CURRENCIES


@pytest.mark.parametrize(("code", "ok"), [("851762", True), ("8517620000", True), ("85176", False),
                                          ("85176200001", False), ("8517.62", False), ("000000", False)])
def test_hs_codes_have_6_to_10_digits(code: str, ok: bool) -> None:
    assert is_hs_code(code) is ok


def test_hs_levels() -> None:
    assert (hs_chapter("8517620000"), hs_heading("8517620000"), hs_subheading("8517620000")) == ("85", "8517", "851762")
