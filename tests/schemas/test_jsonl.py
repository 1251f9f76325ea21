"""JSON Lines conversion and files: schema order, 2-decimal money, bad lines reported, not raised."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from zeikan.schemas.codec import schema_json
from zeikan.schemas.contract import TOPICS
from zeikan.schemas.errors import DecodeError, ValidationError
from zeikan.schemas.examples import example_record
from zeikan.schemas.jsonl import dumps, from_json, read_jsonl, to_json, write_jsonl


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_every_topic_round_trips_through_a_json_line(topic: str) -> None:
    record = example_record(topic)
    line = dumps(topic, record)
    assert "\n" not in line
    assert json.loads(line) == to_json(topic, record)
    assert from_json(topic, json.loads(line)) == record


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_keys_follow_the_schema_order(topic: str) -> None:
    shuffled = dict(reversed(list(example_record(topic).items())))
    keys = list(json.loads(dumps(topic, shuffled)))
    assert keys == [field["name"] for field in schema_json(topic)["fields"]]


def test_money_is_a_json_number_with_two_decimals() -> None:
    record = example_record("declarations")
    record["items"][0]["customs_value"] = Decimal("12500")
    line = dumps("declarations", record)
    assert '"customs_value": 12500.00,' in line
    assert to_json("declarations", record)["items"][0]["customs_value"] == 12500.0


def test_to_json_is_json_safe_and_fills_defaults() -> None:
    record = example_record("inspection-results")
    del record["random_selected"]
    tree = to_json("inspection-results", record)
    assert tree["random_selected"] is False
    assert tree["revenue_recovered"] == 1520.75
    json.dumps(tree)


def test_bytes_are_base64_in_json() -> None:
    tree = to_json("dead-letters", example_record("dead-letters"))
    assert tree["raw"] == "wwFub3QtYXZybw=="


def test_from_json_converts_money_times_and_doubles() -> None:
    obj = to_json("declarations", example_record("declarations"))
    obj["filed_at"] = "2024-03-01T08:00:00Z"
    obj["items"][0]["customs_value"] = 0.1
    obj["items"][1]["customs_value"] = "99.999"
    obj["items"][2]["quantity"] = 40
    record = from_json("declarations", obj)
    assert record["filed_at"] == 1_709_280_000_000
    assert record["items"][0]["customs_value"] == Decimal("0.10")
    assert record["items"][1]["customs_value"] == Decimal("100.00")
    assert type(record["items"][2]["quantity"]) is float


def test_from_json_leaves_unconvertible_values_for_validation_to_name() -> None:
    obj = to_json("declarations", example_record("declarations"))
    obj["items"][1]["customs_value"] = "cheap"
    obj["expected_arrival"] = "2024-03-04"  # no zone: not taken as UTC
    record = from_json("declarations", obj)
    assert record["items"][1]["customs_value"] == "cheap"
    assert record["expected_arrival"] == "2024-03-04"


def test_from_json_rejects_a_non_object() -> None:
    with pytest.raises(ValidationError) as caught:
        from_json("scans", ["not", "an", "object"])  # type: ignore[arg-type]
    assert caught.value.kind == "SCHEMA"


def test_dumps_of_a_non_finite_number_is_a_validation_error() -> None:
    record = example_record("decisions")
    record["risk_score"] = float("nan")
    with pytest.raises(ValidationError):
        dumps("decisions", record)


def test_dumps_of_a_record_with_a_wrong_type_names_the_field() -> None:
    record = example_record("declarations")
    record["items"][0]["customs_value"] = object()
    with pytest.raises(ValidationError) as caught:
        dumps("declarations", record)
    assert caught.value.field == "items[0].customs_value"


@pytest.mark.parametrize("name", ["declarations.jsonl", "declarations.jsonl.gz"])
def test_write_then_read_gives_the_same_records(tmp_path: Path, name: str) -> None:
    records = [example_record("declarations") for _ in range(3)]
    for index, record in enumerate(records):
        record["declaration_id"] = f"DEC-{index}"
    path = tmp_path / name
    assert write_jsonl(path, "declarations", records) == 3
    assert list(read_jsonl(path, "declarations")) == [(1, records[0]), (2, records[1]), (3, records[2])]


def test_write_refuses_an_invalid_record_unless_told_not_to_check(tmp_path: Path) -> None:
    record = example_record("scans")
    record["container_id"] = "CSQU3054384"
    with pytest.raises(ValidationError):
        write_jsonl(tmp_path / "a.jsonl", "scans", [record])
    assert write_jsonl(tmp_path / "b.jsonl", "scans", [record], check=False) == 1


def test_bad_lines_are_yielded_as_errors_and_reading_goes_on(tmp_path: Path) -> None:
    good = dumps("scans", example_record("scans"))
    wrong_type = json.loads(good) | {"scanned_at": "soon"}
    bad_digit = json.loads(good) | {"container_id": "CSQU3054384"}
    path = tmp_path / "scans.jsonl"
    path.write_bytes("\n".join([
        good, "{not json", "", "[1, 2]", json.dumps(wrong_type), json.dumps(bad_digit), good,
    ]).encode() + b"\n\xff\xfe\n")
    results = list(read_jsonl(path, "scans"))
    assert [line_no for line_no, _ in results] == [1, 2, 4, 5, 6, 7, 8]
    kinds = [(r.kind, r.field) if isinstance(r, ValidationError) else "ok" for _, r in results]
    assert kinds == ["ok", ("DECODE", ""), ("SCHEMA", ""), ("SCHEMA", "scanned_at"),
                     ("SEMANTIC", "container_id"), "ok", ("DECODE", "")]
    assert isinstance(results[1][1], DecodeError)
