"""The goods catalogue and the public tariff."""

from __future__ import annotations

import pytest

from zeikan.schemas.reference import COUNTRIES as ISO_COUNTRIES
from zeikan.schemas.reference import is_hs_code
from zeikan.sim.catalog import COUNTRIES, GOODS, OFFICES, SCANNER_ENERGY, tariff_rate


def test_catalogue_has_about_200_distinct_valid_hs_codes() -> None:
    assert 150 <= len(GOODS) <= 250
    assert len(set(GOODS.hs_code)) == len(GOODS)
    assert all(is_hs_code(hs) for hs in GOODS.hs_code)
    assert (GOODS.base_price > 0).all() and (GOODS.unit_kg > 0).all()


def test_lookalikes_are_in_the_same_group_with_lower_duty() -> None:
    for g in range(len(GOODS)):
        for other in GOODS.lookalike[GOODS.lookalike_ptr[g]:GOODS.lookalike_ptr[g + 1]]:
            assert GOODS.group[other] == GOODS.group[g] and GOODS.duty[other] < GOODS.duty[g]
    assert GOODS.lookalike_ptr[-1] > 50, "misdeclaration has many targets"


def test_countries_offices_and_scanners_are_consistent() -> None:
    assert set(COUNTRIES) <= ISO_COUNTRIES
    assert 18 <= len(OFFICES) <= 22
    for office in OFFICES:
        assert all(model in SCANNER_ENERGY for model in office.scanners)
        assert office.scanners or office.mode in ("AIR", "POST")


def test_tariff_includes_preferences_and_anti_dumping() -> None:
    assert tariff_rate("640399", "CN") == 0.3
    assert tariff_rate("640399", "VN") < tariff_rate("640399", "CN")
    assert tariff_rate("720851", "CN") > tariff_rate("720851", "KR")
    assert tariff_rate("999999", "CN") == 0.0


def test_the_shipped_tariff_table_is_the_worlds_tariff() -> None:
    from zeikan.features.tariff import TARIFF
    from zeikan.sim.catalog import COUNTRIES, GOODS, tariff_rate

    for hs in GOODS.hs_code:
        for origin in COUNTRIES:
            assert TARIFF.rate(hs, origin) == pytest.approx(tariff_rate(hs, origin)), (hs, origin)


def test_the_shipped_substitution_list_is_the_worlds_lookalikes() -> None:
    from zeikan.features.lookalikes import LOOKALIKES

    hides: dict[str, set[str]] = {}
    for g in range(len(GOODS)):
        for fake in GOODS.lookalike[GOODS.lookalike_ptr[g]:GOODS.lookalike_ptr[g + 1]]:
            hides.setdefault(GOODS.hs_code[fake][:6], set()).add(GOODS.hs_code[g][:6])
    assert {hs: set(codes) for hs, codes in LOOKALIKES.hides.items()} == hides
