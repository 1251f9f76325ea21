"""The Avro codec: framings, round trips, in-memory types, schema versions on the wire."""

from __future__ import annotations

import copy
import struct
from decimal import Decimal
from io import BytesIO

import fastavro
import pytest

from zeikan.schemas.codec import (
    Framing,
    TopicCodec,
    codec_for,
    encode_single_object,
    load_schema,
    past_schemas,
    schema_fingerprint,
    schema_json,
)
from zeikan.schemas.contract import TOPICS
from zeikan.schemas.errors import DecodeError, IncompatibleSchema, SchemaError, UnknownTopic, ValidationError
from zeikan.schemas.examples import example_record

FRAMINGS = [(Framing.SINGLE_OBJECT, None), (Framing.CONFLUENT, 17)]


@pytest.mark.parametrize("topic", sorted(TOPICS))
@pytest.mark.parametrize(("framing", "schema_id"), FRAMINGS)
def test_every_topic_round_trips_in_both_framings(topic: str, framing: Framing, schema_id: int | None) -> None:
    record = example_record(topic)
    codec = codec_for(topic, framing, schema_id)
    assert codec.topic == topic
    assert codec.decode(codec.encode(record)) == record


def test_single_object_header_is_marker_and_little_endian_fingerprint() -> None:
    codec = codec_for("declarations")
    data = codec.encode(example_record("declarations"))
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == codec.fingerprint


def test_fingerprint_matches_the_avro_spec_test_vector() -> None:
    # Avro's schema-tests: CRC-64-AVRO of "null" is 7195948357588979594.
    assert schema_fingerprint("null") == struct.pack("<q", 7195948357588979594)


def test_confluent_header_is_magic_and_big_endian_schema_id() -> None:
    data = codec_for("scans", "confluent", 258).encode(example_record("scans"))
    assert data[:5] == b"\x00\x00\x00\x01\x02"


def test_body_is_plain_avro_readable_with_the_published_schema() -> None:
    record = example_record("declarations")
    data = codec_for("declarations").encode(record)
    decoded = fastavro.schemaless_reader(BytesIO(data[10:]), load_schema("declarations"), None)
    assert decoded["declaration_id"] == record["declaration_id"]
    assert decoded["filed_at"].year == 2024  # logical type on the wire, datetime for a plain reader


def test_times_stay_int_millis_and_money_stays_decimal() -> None:
    codec = codec_for("declarations")
    decoded = codec.decode(codec.encode(example_record("declarations")))
    assert type(decoded["filed_at"]) is int
    assert type(decoded["items"][0]["customs_value"]) is Decimal
    assert decoded["items"][0]["customs_value"].as_tuple().exponent == -2


def test_money_is_rounded_half_up_to_cents_on_encode_without_touching_the_input() -> None:
    record = example_record("inspection-results")
    record["revenue_recovered"] = Decimal("10.005")
    codec = codec_for("inspection-results")
    assert codec.decode(codec.encode(record))["revenue_recovered"] == Decimal("10.01")
    assert record["revenue_recovered"] == Decimal("10.005")


def test_codecs_are_cached_per_topic_framing_and_id() -> None:
    assert codec_for("scans") is codec_for("scans", "single-object")
    assert codec_for("scans", "confluent", 1) is not codec_for("scans", "confluent", 2)


@pytest.mark.parametrize(
    ("args", "error"),
    [(("nope",), UnknownTopic), (("scans", "protobuf"), SchemaError), (("scans", "confluent"), SchemaError)],
)
def test_bad_codec_settings_raise_schema_errors(args: tuple, error: type) -> None:
    with pytest.raises(error):
        codec_for(*args)


def test_encode_of_a_wrong_record_raises_validation_error_with_the_field() -> None:
    record = example_record("declarations")
    record["items"][1]["quantity"] = "many"
    with pytest.raises(ValidationError) as caught:
        codec_for("declarations").encode(record)
    assert caught.value.kind == "SCHEMA"
    assert caught.value.field == "items[1].quantity"


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda b: b[:2] + bytes(8) + b[10:], "unknown schema fingerprint"),
        (lambda b: b"\x00" + b[1:], "not Avro single-object"),
        (lambda b: b[:5], "too short"),
        (lambda b: b[:-3], "bad Avro body"),
        (lambda b: b + b"\x00", "trailing bytes"),
        (lambda b: b"", "too short"),
    ],
)
def test_bad_single_object_bytes_raise_decode_error(mangle, reason: str) -> None:
    codec = codec_for("declarations")
    with pytest.raises(DecodeError, match=reason) as caught:
        codec.decode(mangle(codec.encode(example_record("declarations"))))
    assert caught.value.kind == "DECODE"


def test_confluent_rejects_another_schema_id_and_other_framing() -> None:
    codec = codec_for("scans", Framing.CONFLUENT, 5)
    other = codec_for("scans", Framing.CONFLUENT, 6).encode(example_record("scans"))
    with pytest.raises(DecodeError, match="unknown schema id 6"):
        codec.decode(other)
    with pytest.raises(DecodeError, match="not Confluent"):
        codec.decode(codec_for("scans").encode(example_record("scans")))


def test_decode_of_a_non_bytes_value_raises_decode_error() -> None:
    with pytest.raises(DecodeError):
        codec_for("scans").decode("text")  # type: ignore[arg-type]


def test_new_reader_reads_records_of_the_previous_registered_version() -> None:
    (v1,) = past_schemas("inspection-results")
    old_record = example_record("inspection-results")
    del old_record["random_selected"]
    decoded = codec_for("inspection-results").decode(encode_single_object(v1, old_record))
    assert decoded == {**old_record, "random_selected": False}


def _with_extra_field(schema: dict, field: dict) -> dict:
    newer = copy.deepcopy(schema)
    newer["fields"].append(field)
    return newer


def test_reader_reads_records_of_a_newer_version_after_registering_it() -> None:
    newer = _with_extra_field(schema_json("scans"), {"name": "operator", "type": "string", "default": ""})
    codec = TopicCodec("scans")
    data = encode_single_object(newer, {**example_record("scans"), "operator": "kaito"})
    with pytest.raises(DecodeError, match="unknown schema fingerprint"):
        codec.decode(data)
    codec.register_writer(newer)
    assert codec.decode(data) == example_record("scans")


def test_registering_a_version_with_a_field_without_default_is_refused() -> None:
    newer = _with_extra_field(schema_json("scans"), {"name": "operator", "type": "string"})
    with pytest.raises(IncompatibleSchema, match="operator: added without a default"):
        TopicCodec("scans").register_writer(newer)


def test_confluent_codec_reads_a_registered_older_schema_id() -> None:
    (v1,) = past_schemas("inspection-results")
    codec = TopicCodec("inspection-results", Framing.CONFLUENT, 9)
    codec.register_writer(v1, schema_id=8)
    old_record = example_record("inspection-results")
    del old_record["random_selected"]
    body = encode_single_object(v1, old_record)[10:]
    assert codec.decode(b"\x00\x00\x00\x00\x08" + body)["random_selected"] is False
