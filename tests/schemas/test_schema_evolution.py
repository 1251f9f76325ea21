"""The evolution rules: add fields with defaults only, never remove or retype."""

from __future__ import annotations

import copy

import pytest

from zeikan.schemas.codec import PAST_VERSIONS, past_schemas, schema_json
from zeikan.schemas.contract import TOPICS
from zeikan.schemas.errors import IncompatibleSchema
from zeikan.schemas.evolution import check_evolution, evolution_problems


def _changed(topic: str, change) -> dict:
    schema = copy.deepcopy(schema_json(topic))
    change(schema)
    return schema


def _field(schema: dict, name: str) -> dict:
    return next(f for f in schema["fields"] if f["name"] == name)


def test_adding_a_field_with_a_default_is_compatible() -> None:
    newer = _changed("scans", lambda s: s["fields"].append({"name": "lane", "type": "int", "default": 0}))
    check_evolution(schema_json("scans"), newer)


def test_adding_a_field_without_a_default_is_rejected() -> None:
    newer = _changed("scans", lambda s: s["fields"].append({"name": "lane", "type": "int"}))
    with pytest.raises(IncompatibleSchema, match="lane: added without a default"):
        check_evolution(schema_json("scans"), newer)


def test_removing_a_field_without_a_default_is_rejected() -> None:
    newer = _changed("scans", lambda s: s["fields"].remove(_field(s, "energy")))
    assert evolution_problems(schema_json("scans"), newer) == [
        "energy: removed but had no default (old readers cannot read new records)"
    ]


def test_retyping_a_nested_field_is_rejected_with_its_path() -> None:
    newer = _changed("declarations", lambda s: _field(s, "items")["type"]["items"]["fields"][0].update(type="string"))
    assert evolution_problems(schema_json("declarations"), newer) == [
        "items[].line_no: type changed from int to string"
    ]


def test_removing_an_enum_symbol_or_adding_one_without_default_is_rejected() -> None:
    fewer = _changed("scans", lambda s: _field(s, "energy")["type"]["symbols"].remove("DUAL"))
    more = _changed("scans", lambda s: _field(s, "energy")["type"]["symbols"].append("TRIPLE"))
    assert evolution_problems(schema_json("scans"), fewer) == ["energy: enum symbols removed: DUAL"]
    assert "TRIPLE" in evolution_problems(schema_json("scans"), more)[0]


def test_dropping_a_logical_type_is_rejected() -> None:
    newer = _changed("scans", lambda s: _field(s, "scanned_at").update(type="long"))
    assert evolution_problems(schema_json("scans"), newer) == [
        "scanned_at: logical type changed from timestamp-millis to None"
    ]


def test_a_schema_that_does_not_parse_is_reported() -> None:
    assert evolution_problems(schema_json("scans"), {"type": "no-such-type"})[0].startswith(
        "schema does not parse"
    )


@pytest.mark.parametrize("topic", sorted(PAST_VERSIONS))
def test_every_registered_past_version_is_compatible_with_the_current_one(topic: str) -> None:
    for past in past_schemas(topic):
        check_evolution(past, schema_json(topic))


def test_every_topic_schema_is_compatible_with_itself() -> None:
    for topic in TOPICS:
        assert evolution_problems(schema_json(topic), schema_json(topic)) == []
