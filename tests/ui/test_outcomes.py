"""Record-outcome forms become contract-valid InspectionResults, or are refused naming the field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.ui.factories import decision, declaration
from zeikan.schemas.validation import validate
from zeikan.ui.errors import FormError
from zeikan.ui.outcomes import inspection_record, new_inspection_id

DECL = declaration("DEC-1", "JPYOK")
FORM = {"inspection_id": new_inspection_id("ab" * 16), "inspection_type": "PHYSICAL", "outcome": "SEIZURE",
        "finding_kind_0": "CONCEALMENT", "finding_line_0": "1", "finding_note_0": "false wall", "revenue_recovered": "1,250.5"}


def test_a_valid_form_is_a_contract_record_carrying_the_random_flag():
    record = inspection_record(FORM, DECL, decision("DEC-1", "JPYOK", random_selected=True), "tanaka", now_ms=1_709_280_000_000)
    validate("inspection-results", record)
    assert record["findings"] == [{"line_no": 1, "kind": "CONCEALMENT", "note": "false wall"}]
    assert (record["revenue_recovered"], record["random_selected"], record["officer_id"]) == (Decimal("1250.50"), True, "tanaka")


@pytest.mark.parametrize("change, field", [
    ({"outcome": "BURNED"}, "outcome"),
    ({"inspection_type": "<b>"}, "inspection_type"),
    ({"finding_line_0": "9"}, "finding_line_0"),
    ({"finding_kind_0": "MAGIC"}, "finding_kind_0"),
    ({"outcome": "NO_FINDING"}, "outcome"),
    ({"finding_kind_0": ""}, "findings"),
    ({"revenue_recovered": "-5"}, "revenue_recovered"),
    ({"revenue_recovered": "NaN"}, "revenue_recovered"),
    ({"inspection_id": "INS-1"}, "inspection_id"),
    ({"finding_note_0": "x" * 2001}, "findings[0].note"),
])
def test_a_bad_form_is_refused_naming_the_field(change, field):
    with pytest.raises(FormError) as refused:
        inspection_record({**FORM, **change}, DECL, None, "tanaka")
    assert refused.value.field == field
