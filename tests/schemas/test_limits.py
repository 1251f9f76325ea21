"""Limits before decoding: record size, collection/string limits read from the wire, enum and union indexes."""

from __future__ import annotations

from io import BytesIO

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zeikan.schemas.avro_walk import compile_walker
from zeikan.schemas.codec import codec_for, encode_single_object, expanded_schema, past_schemas
from zeikan.schemas.errors import DecodeError, ErrorKind, LimitExceeded
from zeikan.schemas.examples import example_record
from zeikan.schemas.hostile import MINIMAL_ITEM, forged, hostile, varint
from zeikan.schemas.limits import InvalidLimit, Limits
from zeikan.streams.errors import InvalidSetting

NOW = 1_709_280_000_000


def _declaration(**changes: object) -> dict:
    record = example_record("declarations")
    record.update(changes)
    return record


def test_a_record_over_the_byte_limit_is_refused_before_its_header_is_read() -> None:
    data = b"\x00" * 2_000
    with pytest.raises(LimitExceeded, match="2000 bytes, the limit is 1000") as caught:
        codec_for("declarations").decode(data, Limits(max_record_bytes=1_000))
    assert caught.value.kind is ErrorKind.LIMIT


def test_the_540000_item_declaration_is_refused_at_its_block_count_even_under_a_raised_size_limit() -> None:
    bad = hostile("items_540000", serial=1, now_ms=NOW)
    assert len(bad.value) > 11_000_000
    roomy = Limits(max_record_bytes=64 * 1024 * 1024)
    with pytest.raises(LimitExceeded, match="items: 540000 items, the limit is 1000"):
        codec_for("declarations").decode(bad.value, roomy)
    with pytest.raises(LimitExceeded, match="^LIMIT declarations: 11880"):
        codec_for("declarations").decode(bad.value)


def test_many_small_blocks_are_summed_per_collection() -> None:
    prefix = codec_for("declarations").encode(_declaration(items=[]))[:-1]
    blocks = (varint(1) + MINIMAL_ITEM) * 1_001 + b"\x00"
    with pytest.raises(LimitExceeded, match="items: 1001 items, the limit is 1000"):
        codec_for("declarations").decode(prefix + blocks)
    under = prefix + (varint(1) + MINIMAL_ITEM) * 3 + b"\x00"
    assert len(codec_for("declarations").decode(under)["items"]) == 3


def test_the_total_item_limit_counts_every_collection_of_the_record() -> None:
    record = _declaration()
    limits = Limits(max_total_items=len(record["items"]) + len(record["containers"]) - 1)
    with pytest.raises(LimitExceeded, match="items: 5 items in the record, the limit is 4"):
        codec_for("declarations").decode(codec_for("declarations").encode(record), limits)


def test_negative_block_counts_with_byte_sizes_are_valid_avro_and_decode() -> None:
    """Writers may emit ``-count, byte size, items``: the walk must follow them as fastavro does."""
    codec = codec_for("declarations")
    record = _declaration()
    plain = codec.encode(_declaration(items=[]))[:-1]
    items = BytesIO()
    item_schema = fastavro.parse_schema(expanded_schema("declarations")["fields"][-1]["type"]["items"])
    for item in record["items"]:
        fastavro.schemaless_writer(items, item_schema, item)
    body = items.getvalue()
    data = plain + varint(-len(record["items"])) + varint(len(body)) + body + b"\x00"
    assert codec.decode(data)["items"] == record["items"]


def test_a_string_longer_than_the_limit_is_refused_with_its_path() -> None:
    record = _declaration()
    record["items"][1]["description"] = "é" * 40_000  # 80,000 bytes in UTF-8
    data = codec_for("declarations").encode(record)
    with pytest.raises(LimitExceeded, match=r"items\[\]\.description: 80000 bytes, the limit is 65536"):
        codec_for("declarations").decode(data)
    assert codec_for("declarations").decode(data, Limits(max_string_bytes=80_000)) == record


@pytest.mark.parametrize("index", [-1, -2, 5, 2**40])
def test_an_enum_index_out_of_range_is_a_decode_error(index: int) -> None:
    data = forged("declarations", _declaration(transport_mode=index), {"transport_mode": "int"})
    with pytest.raises(DecodeError, match=rf"transport_mode: enum index {index} is not in 0\.\.4") as caught:
        codec_for("declarations").decode(data)
    assert caught.value.field == "transport_mode"


def test_every_enum_index_in_range_decodes_as_its_symbol() -> None:
    symbols = ["SEA", "AIR", "ROAD", "RAIL", "POST"]
    for index, symbol in enumerate(symbols):
        data = forged("declarations", _declaration(transport_mode=index), {"transport_mode": "int"})
        assert codec_for("declarations").decode(data)["transport_mode"] == symbol


@pytest.mark.parametrize("index", [-1, 2, 7])
def test_a_union_index_out_of_range_is_a_decode_error(index: int) -> None:
    record = {**example_record("dead-letters"), "key": {"i": index, "v": b"k"}}
    as_record = {"type": "record", "name": "U", "fields": [{"name": "i", "type": "int"}, {"name": "v", "type": "bytes"}]}
    data = forged("dead-letters", record, {"key": as_record})
    with pytest.raises(DecodeError, match=rf"key: union index {index} is not in 0\.\.1"):
        codec_for("dead-letters").decode(data)
    good = forged("dead-letters", {**record, "key": {"i": 1, "v": b"k"}}, {"key": as_record})
    assert codec_for("dead-letters").decode(good)["key"] == b"k"


def test_a_negative_length_is_a_decode_error_and_a_huge_declared_one_a_limit() -> None:
    with pytest.raises(DecodeError, match="declaration_id: negative length"):
        codec_for("declarations").decode(hostile("negative_string_length", 1, NOW).value)
    with pytest.raises(LimitExceeded, match="declaration_id: 1099511627776 bytes"):
        codec_for("declarations").decode(hostile("huge_string_declared", 1, NOW).value)


def test_records_of_a_past_writer_schema_are_walked_along_that_schema() -> None:
    (v1,) = past_schemas("inspection-results")
    record = {k: v for k, v in example_record("inspection-results").items() if k in {f["name"] for f in v1["fields"]}}
    data = encode_single_object(v1, record)
    assert codec_for("inspection-results").decode(data)["inspection_id"] == record["inspection_id"]
    assert codec_for("inspection-results").decode(data)["random_selected"] is False  # v1 has no such field
    with pytest.raises(LimitExceeded, match="inspection_id: 10 bytes, the limit is 5"):
        codec_for("inspection-results").decode(data, Limits(max_string_bytes=5))


@settings(max_examples=200, deadline=None)
@given(containers=st.integers(0, 40), text=st.text(max_size=300), limit=st.integers(1, 50), string_limit=st.integers(1, 400))
def test_the_walk_refuses_exactly_the_records_over_a_limit(containers: int, text: str, limit: int, string_limit: int) -> None:
    record = example_record("scans")
    record["declaration_ids"] = [f"D{i}" for i in range(containers)]
    record["scanner_id"] = text
    data = codec_for("scans").encode(record)
    limits = Limits(max_collection_items=limit, max_string_bytes=string_limit)
    longest = max(len(v.encode()) for v in [*record["declaration_ids"], *(v for v in record.values() if isinstance(v, str))])
    over = containers > limit or longest > string_limit
    try:
        decoded = codec_for("scans").decode(data, limits)
    except LimitExceeded as error:
        assert over, str(error)
        assert error.field in ("declaration_ids", "declaration_ids[]", *record)
        return
    assert not over and decoded == record


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["declarations", "scans", "inspection-results", "decisions", "dead-letters", "scan-overdue"]))
def test_the_walk_ends_where_every_example_record_ends(topic: str) -> None:
    data = codec_for(topic).encode(example_record(topic))
    assert compile_walker(expanded_schema(topic))(data, 10, Limits()) == len(data)


def test_limits_come_from_the_environment_and_refuse_nonsense() -> None:
    limits = Limits.from_env({"ZEIKAN_MAX_RECORD_BYTES": "2048", "ZEIKAN_MAX_FUTURE_HOURS": "1.5"})
    assert (limits.max_record_bytes, limits.max_future_ms) == (2048, 5_400_000)
    assert Limits.from_env({}, max_string_bytes=9).max_string_bytes == 9
    with pytest.raises(InvalidLimit, match="max_collection_items=0 is invalid.*ZEIKAN_MAX_COLLECTION_ITEMS"):
        Limits(max_collection_items=0)
    with pytest.raises(InvalidLimit, match="dead_letter_max_bytes"):
        Limits(dead_letter_max_bytes=100)
    with pytest.raises(InvalidSetting, match="max_total_items"):
        Limits.from_env({"ZEIKAN_MAX_TOTAL_ITEMS": "lots"})
