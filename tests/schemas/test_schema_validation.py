"""validate(): schema failures (kind SCHEMA) and semantic failures (kind SEMANTIC), with the field."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from zeikan.schemas.contract import TOPICS
from zeikan.schemas.errors import UnknownTopic, ValidationError
from zeikan.schemas.examples import example_record
from zeikan.schemas.validation import validate

Change = Callable[[dict], object]


def _item(index: int, **values: object) -> Change:
    return lambda r: r["items"][index].update(values)


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_every_example_record_is_valid(topic: str) -> None:
    validate(topic, example_record(topic))


def test_unknown_topic_is_a_schema_error_not_a_validation_error() -> None:
    with pytest.raises(UnknownTopic):
        validate("nope", {})


SCHEMA_CASES: list[tuple[str, Change, str]] = [
    ("declarations", lambda r: r.update(filed_at="2024-03-01"), "filed_at"),
    ("declarations", lambda r: r.update(filed_at=True), "filed_at"),
    ("declarations", lambda r: r.pop("office_id"), "office_id"),
    ("declarations", lambda r: r.update(extra=1), "extra"),
    ("declarations", lambda r: r.update(transport_mode="SHIP"), "transport_mode"),
    ("declarations", lambda r: r.update(containers="CSQU3054383"), "containers"),
    ("declarations", _item(2, quantity="5"), "items[2].quantity"),
    ("declarations", _item(0, customs_value=12.5), "items[0].customs_value"),
    ("declarations", _item(0, customs_value=Decimal("NaN")), "items[0].customs_value"),
    ("declarations", _item(0, customs_value=Decimal("1e17")), "items[0].customs_value"),
    ("declarations", _item(1, line_no=2**40), "items[1].line_no"),
    ("decisions", lambda r: r["scores"].update(image="high"), "scores.image"),
    ("decisions", lambda r: r["model_versions"].update(tabular=3), "model_versions['tabular']"),
    ("dead-letters", lambda r: r.update(raw="text"), "raw"),
    ("inspection-results", lambda r: r["findings"][0].update(kind="SMUGGLING"), "findings[0].kind"),
]


@pytest.mark.parametrize(("topic", "change", "field"), SCHEMA_CASES)
def test_schema_violations_name_the_field(topic: str, change: Change, field: str) -> None:
    record = example_record(topic)
    change(record)
    with pytest.raises(ValidationError) as caught:
        validate(topic, record)
    assert (caught.value.kind, caught.value.field) == ("SCHEMA", field)
    assert field in str(caught.value)


def test_a_field_with_a_default_may_be_absent() -> None:
    record = example_record("inspection-results")
    del record["random_selected"]
    validate("inspection-results", record)


SEMANTIC_CASES: list[tuple[str, Change, str, str]] = [
    ("declarations", lambda r: r["containers"].__setitem__(1, "MSKU9070324"), "containers[1]", "check digit 4"),
    ("declarations", lambda r: r["containers"].append("CSQU3054383"), "containers[2]", "appears twice"),
    ("declarations", lambda r: r["containers"].__setitem__(0, "CSQX3054383"), "containers[0]", "ISO 6346"),
    ("declarations", lambda r: r.update(transport_mode="AIR"), "containers", "AIR"),
    ("declarations", lambda r: r.update(containers=[f"CSQU{n:06d}0" for n in range(201)]), "containers", "limit"),
    ("declarations", lambda r: r.update(origin_country="XX"), "origin_country", "ISO 3166"),
    ("declarations", lambda r: r.update(dispatch_country="sg"), "dispatch_country", "ISO 3166"),
    ("declarations", lambda r: r.update(filed_at=1_709_280_000), "filed_at", "2000 and 2100"),
    ("declarations", lambda r: r.update(expected_arrival=r["filed_at"] - 1), "expected_arrival", "before"),
    ("declarations", lambda r: r.update(declaration_id=""), "declaration_id", "empty"),
    ("declarations", lambda r: r.update(importer_id="I" * 65), "importer_id", "limit is 64"),
    ("declarations", lambda r: r.update(items=[]), "items", "at least one"),
    ("declarations", lambda r: r.update(items=r["items"] * 334), "items", "limit is 999"),
    ("declarations", _item(2, line_no=1), "items[2].line_no", "appears twice"),
    ("declarations", _item(0, line_no=0), "items[0].line_no", "1..999"),
    ("declarations", _item(1, hs_code="8471"), "items[1].hs_code", "6 to 10 digits"),
    ("declarations", _item(0, description="x" * 513), "items[0].description", "limit is 512"),
    ("declarations", _item(0, quantity=0.0), "items[0].quantity", "greater than 0"),
    ("declarations", _item(0, quantity=float("nan")), "items[0].quantity", "finite"),
    ("declarations", _item(0, gross_weight_kg=-1.0), "items[0].gross_weight_kg", "negative"),
    ("declarations", _item(0, gross_weight_kg=float("inf")), "items[0].gross_weight_kg", "finite"),
    ("declarations", _item(2, customs_value=Decimal("-0.01")), "items[2].customs_value", "negative"),
    ("declarations", _item(1, currency="XXX"), "items[1].currency", "ISO 4217"),
    ("scans", lambda r: r.update(container_id="CSQU3054380"), "container_id", "check digit"),
    ("scans", lambda r: r.update(image_sha256="A" * 64), "image_sha256", "lowercase hex"),
    ("scans", lambda r: r.update(image_sha256="ab"), "image_sha256", "lowercase hex"),
    ("scans", lambda r: r.update(declaration_ids=["D1", "D1"]), "declaration_ids[1]", "twice"),
    ("inspection-results", lambda r: r["findings"][0].update(line_no=-2), "findings[0].line_no", "1..999"),
    ("inspection-results", lambda r: r["findings"][0].update(note="n" * 2001), "findings[0].note", "2000"),
    ("inspection-results", lambda r: r.update(revenue_recovered=Decimal("-5.00")), "revenue_recovered", "negative"),
    ("decisions", lambda r: r.update(risk_score=1.01), "risk_score", "[0, 1]"),
    ("decisions", lambda r: r.update(risk_score=float("nan")), "risk_score", "finite"),
    ("decisions", lambda r: r["scores"].update(image=-0.5), "scores.image", "negative"),
    ("decisions", lambda r: r.update(decided_at=4_102_444_800_000), "decided_at", "2100"),
    ("dead-letters", lambda r: r.update(error_kind="OOPS"), "error_kind", "DECODE"),
    ("dead-letters", lambda r: r.update(offset=-7), "offset", "-1"),
    ("scan-overdue", lambda r: r["missing_containers"].append("BAD"), "missing_containers[1]", "ISO 6346"),
]


@pytest.mark.parametrize(("topic", "change", "field", "reason"), SEMANTIC_CASES)
def test_semantic_violations_name_the_field_and_reason(topic: str, change: Change, field: str, reason: str) -> None:
    record = example_record(topic)
    change(record)
    with pytest.raises(ValidationError) as caught:
        validate(topic, record)
    assert (caught.value.kind, caught.value.field) == ("SEMANTIC", field)
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"SEMANTIC {topic}: {field}: ")


@pytest.mark.parametrize("mode", ["AIR", "POST"])
def test_air_and_post_declarations_without_containers_are_valid(mode: str) -> None:
    record = example_record("declarations")
    record.update(transport_mode=mode, containers=[])
    validate("declarations", record)


@pytest.mark.parametrize("mode", ["SEA", "RAIL", "ROAD"])
def test_surface_declarations_may_be_without_containers(mode: str) -> None:
    record = example_record("declarations")
    record.update(transport_mode=mode, containers=[])
    validate("declarations", record)


def test_empty_image_hash_is_allowed() -> None:
    record = example_record("scans")
    record["image_sha256"] = ""
    validate("scans", record)
