"""Every feature of the model's vector has a reason template, and every template names a feature."""

from __future__ import annotations

from zeikan.features.names import FEATURE_NAMES
from zeikan.features.reasons import TEMPLATES, reason


def test_each_feature_has_exactly_one_reason_template() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert set(TEMPLATES) == set(FEATURE_NAMES)


def test_every_template_formats_with_the_declaration_context() -> None:
    declaration = {"origin_country": "CN", "dispatch_country": "AE", "importer_id": "I1", "declarant_id": "D1",
                   "office_id": "O1", "transport_mode": "SEA", "items": [{"hs_code": "85171200", "customs_value": 10}]}
    for name in FEATURE_NAMES:
        assert reason(name, -0.5, declaration)
