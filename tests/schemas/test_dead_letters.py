"""Dead letters always fit: any payload, key or reason gives a dead letter under the size limit with the payload's sha256."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from zeikan.schemas.codec import codec_for, encode_single_object
from zeikan.schemas.codec import past_schemas
from zeikan.schemas.dead_letters import KEY_MAX_BYTES, Source, dead_letter_record, encode_dead_letter
from zeikan.schemas.examples import example_record
from zeikan.schemas.limits import DEFAULT_LIMITS, Limits
from zeikan.schemas.validation import validate

SIZES = st.one_of(st.integers(0, 70_000), st.sampled_from([1_048_576, 1_048_577, 4 * 2**20, 12 * 2**20]))


@settings(max_examples=60, deadline=None)
@given(size=SIZES, seed=st.binary(min_size=1, max_size=16), key_size=st.integers(0, 5_000),
       message=st.text(max_size=3_000), max_bytes=st.integers(16_384, 300_000))
def test_any_payload_gives_a_dead_letter_under_the_limit_with_the_full_payload_sha256(
        size: int, seed: bytes, key_size: int, message: str, max_bytes: int) -> None:
    raw = (seed * (size // len(seed) + 1))[:size]
    limits = Limits(dead_letter_max_bytes=max_bytes, max_string_bytes=max(max_bytes, 65_536))
    source = Source("declarations", 5, 123_456, b"k" * key_size)
    letter = dead_letter_record(raw, source, "LIMIT", message, failed_at=1_709_280_000_000, limits=limits)
    encoded = encode_dead_letter(letter)
    assert len(encoded) <= max_bytes
    assert letter["raw_sha256"] == hashlib.sha256(raw).hexdigest()
    assert letter["raw_size"] == size and raw.startswith(letter["raw"])
    assert letter["key"] == b"k" * min(key_size, KEY_MAX_BYTES)
    decoded = codec_for("dead-letters").decode(encoded, limits)
    validate("dead-letters", decoded)
    assert (decoded["source_topic"], decoded["partition"], decoded["offset"]) == ("declarations", 5, 123_456)


def test_a_small_payload_is_kept_whole() -> None:
    letter = dead_letter_record(b"\xc3\x01bad", Source("scans", 0, 7, None), "DECODE", "bad Avro body")
    assert letter["raw"] == b"\xc3\x01bad" and letter["raw_size"] == 5 and letter["key"] is None


def test_a_12_mb_payload_keeps_a_prefix_that_fills_the_default_budget() -> None:
    raw = bytes(range(256)) * (12 * 4096)
    letter = dead_letter_record(raw, Source("declarations", 1, 2, b"DEC-1"), "LIMIT", "too big")
    encoded = encode_dead_letter(letter)
    assert DEFAULT_LIMITS.dead_letter_max_bytes - 16 <= len(encoded) <= DEFAULT_LIMITS.dead_letter_max_bytes
    assert codec_for("dead-letters").decode(encoded)["raw_size"] == len(raw)


def test_the_raw_prefix_stays_readable_under_the_same_string_limit() -> None:
    limits = Limits(dead_letter_max_bytes=200_000, max_string_bytes=20_000)
    letter = dead_letter_record(b"z" * 500_000, Source("declarations"), "LIMIT", "too big", limits=limits)
    assert len(letter["raw"]) == 20_000
    assert codec_for("dead-letters").decode(encode_dead_letter(letter), limits)["raw_size"] == 500_000


def test_dead_letters_written_before_v2_still_decode_with_unknown_size_and_digest() -> None:
    (v1,) = past_schemas("dead-letters")
    old = {k: v for k, v in example_record("dead-letters").items() if k not in ("raw_size", "raw_sha256")}
    decoded = codec_for("dead-letters").decode(encode_single_object(v1, old))
    assert (decoded["raw_size"], decoded["raw_sha256"]) == (-1, "")
    validate("dead-letters", decoded)
