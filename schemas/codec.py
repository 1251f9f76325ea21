"""Avro wire codec of the event contract: one :class:`TopicCodec` per topic, schemas parsed once.

Two framings:

* ``single-object`` (default, Avro spec): ``C3 01`` + 8-byte little-endian CRC-64-AVRO
  fingerprint of the schema's Parsing Canonical Form + schemaless body. Consumers need
  no registry; records written with an older registered schema version (``history/``)
  are read through Avro schema resolution.
* ``confluent``: ``00`` + 4-byte big-endian schema id (given by configuration) + body.

In memory, times stay ``int`` epoch millis (records are decoded with a schema copy whose
``timestamp-millis`` annotations are stripped: same wire format, same fingerprint) and
money stays ``Decimal`` (rounded half-up to 0.01 on encode).

Before decoding, :meth:`TopicCodec.decode` refuses bytes over :class:`Limits` (record size,
then lengths and counts read by :mod:`zeikan.schemas.avro_walk` along the writer schema)
and enum or union indexes out of range, without materialising the record.

>>> codec = codec_for("declarations")
>>> from zeikan.schemas.examples import example_record
>>> record = example_record("declarations")
>>> codec.decode(codec.encode(record)) == record
True
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import cache
from io import BytesIO
from pathlib import Path
import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from zeikan.schemas.avro_walk import Refused, Walker, compile_walker
from zeikan.schemas.contract import TOPICS, TopicSpec
from zeikan.schemas.errors import DecodeError, ErrorKind, LimitExceeded, SchemaError, UnknownTopic, ValidationError
from zeikan.schemas.evolution import check_evolution
from zeikan.schemas.limits import DEFAULT_LIMITS, Limits
from zeikan.schemas.structure import compile_checker, compile_quantizer, strip_logical_type

SCHEMA_DIR = Path(__file__).resolve().parent
"""Where the ``.avsc`` files of the current contract live."""

HISTORY_DIR = SCHEMA_DIR / "history"
"""Earlier versions of the schemas that records on the wire may still have been written with."""

PAST_VERSIONS: dict[str, tuple[str, ...]] = {
    "inspection-results": ("inspection_result.v1.avsc",),
    "dead-letters": ("dead_letter.v1.avsc",),
}
"""Per topic, the files in :data:`HISTORY_DIR` of schema versions a reader must still decode."""

SINGLE_OBJECT_MARKER = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"


class Framing(StrEnum):
    """How a record's bytes say which schema wrote them."""

    SINGLE_OBJECT = "single-object"
    CONFLUENT = "confluent"


def topic_spec(topic: str) -> TopicSpec:
    """The contract entry of ``topic``; raises :class:`UnknownTopic`."""
    try:
        return TOPICS[topic]
    except KeyError:
        raise UnknownTopic(topic, list(TOPICS)) from None


@cache
def schema_json(topic: str) -> dict:
    """The ``.avsc`` of ``topic`` as written (JSON dict). Do not mutate: it is shared."""
    return _read_avsc(SCHEMA_DIR / topic_spec(topic).schema_file)


@cache
def load_schema(topic: str) -> dict:
    """The parsed fastavro schema of ``topic`` (logical types kept). Do not mutate: it is shared."""
    return fastavro.parse_schema(schema_json(topic))


@cache
def expanded_schema(topic: str) -> dict:
    """The schema of ``topic`` with named types expanded inline, for schema-driven walks."""
    return fastavro.parse_schema(schema_json(topic), expand=True, _write_hint=False)


def past_schemas(topic: str) -> list[dict]:
    """The JSON schemas of earlier versions of ``topic`` still readable on the wire."""
    return [_read_avsc(HISTORY_DIR / name) for name in PAST_VERSIONS.get(topic, ())]


def schema_fingerprint(schema: dict | str) -> bytes:
    """The 8-byte little-endian CRC-64-AVRO fingerprint of a schema's Parsing Canonical Form."""
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


def _read_avsc(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemaError(f"cannot read schema file {path}: {exc}") from exc


def _wire_schema(schema: dict) -> dict:
    """Parsed schema used on the wire: timestamps read and written as plain int millis."""
    return fastavro.parse_schema(strip_logical_type(schema, "timestamp-millis"))


def encode_single_object(schema: dict, record: dict) -> bytes:
    """Single-object bytes of ``record`` written with ``schema`` (any version), as another
    program using that version would write them; no validation, no money rounding."""
    body = BytesIO()
    body.write(SINGLE_OBJECT_MARKER + schema_fingerprint(schema))
    fastavro.schemaless_writer(body, _wire_schema(schema), record)
    return body.getvalue()


class TopicCodec:
    """Encodes and decodes the records of one topic. Build it with :func:`codec_for`."""

    def __init__(self, topic: str, framing: Framing = Framing.SINGLE_OBJECT,
                 schema_id: int | None = None) -> None:
        self.topic = topic
        self.framing = Framing(framing)
        self.schema_id = schema_id
        self.schema = schema_json(topic)
        self.fingerprint = schema_fingerprint(self.schema)
        self._schema = _wire_schema(self.schema)
        self._quantize = compile_quantizer(expanded_schema(topic))
        self._check = compile_checker(expanded_schema(topic), topic)
        self._header = self._header_for(self.fingerprint, schema_id)
        self._header_len = len(self._header)
        self._writers: dict[bytes, tuple[dict | None, Walker]] = {
            self._header: (None, compile_walker(expanded_schema(topic)))
        }
        if self.framing is Framing.SINGLE_OBJECT:
            for past in past_schemas(topic):
                self.register_writer(past)

    def _header_for(self, fp: bytes, schema_id: int | None) -> bytes:
        if self.framing is Framing.SINGLE_OBJECT:
            return SINGLE_OBJECT_MARKER + fp
        if schema_id is None or not 0 <= schema_id < 2**32:
            raise SchemaError(
                f"confluent framing of topic {self.topic!r} needs a schema id in 0..2^32-1, "
                f"got {schema_id!r}: set it from the registry's id of this schema"
            )
        return CONFLUENT_MAGIC + schema_id.to_bytes(4, "big")

    def register_writer(self, schema: dict, schema_id: int | None = None) -> None:
        """Also decode records written with ``schema`` (another version of this topic's schema).

        Raises :class:`IncompatibleSchema` when ``schema``, seen as an evolution of the current
        schema, breaks the rules (they are symmetric: an older version must pass as well).
        With confluent framing, ``schema_id`` is the registry id those records carry.
        """
        check_evolution(self.schema, schema)
        header = self._header_for(schema_fingerprint(schema), schema_id)
        if header != self._header:
            expanded = fastavro.parse_schema(schema, expand=True, _write_hint=False)
            self._writers[header] = (_wire_schema(schema), compile_walker(expanded))

    def encode(self, record: dict) -> bytes:
        """The framed Avro bytes of ``record``; raises :class:`ValidationError` (kind SCHEMA)."""
        buffer = BytesIO()
        buffer.write(self._header)
        try:
            prepared = self._quantize(record) if self._quantize else record
            fastavro.schemaless_writer(buffer, self._schema, prepared)
        except Exception as exc:  # noqa: BLE001 - any writer failure is a schema failure
            self._check(record)
            raise ValidationError("SCHEMA", "", f"cannot encode: {exc}", self.topic) from exc
        return buffer.getvalue()

    def decode(self, data: bytes, limits: Limits = DEFAULT_LIMITS) -> dict:
        """The record in framed Avro ``data``.

        Raises :class:`LimitExceeded` (kind LIMIT) for bytes over ``limits``, checked before
        decoding, and :class:`DecodeError` on bad bytes.
        """
        if not isinstance(data, (bytes, bytearray)):
            raise DecodeError(f"expected bytes, got {type(data).__name__}", self.topic)
        if len(data) > limits.max_record_bytes:
            raise LimitExceeded("", f"{len(data)} bytes, the limit is {limits.max_record_bytes}", self.topic)
        header = bytes(data[: self._header_len])
        try:
            writer, walk = self._writers[header]
        except KeyError:
            raise self._unknown_header(header) from None
        self._walk(walk, data, limits)
        stream = BytesIO(data)
        stream.seek(self._header_len)
        try:
            if writer is None:
                record = fastavro.schemaless_reader(stream, self._schema, None)
            else:
                record = fastavro.schemaless_reader(stream, writer, self._schema)
        except Exception as exc:  # noqa: BLE001 - any reader failure means the bytes are bad
            raise DecodeError(f"bad Avro body ({type(exc).__name__}: {exc})", self.topic) from exc
        if stream.tell() != len(data):
            raise DecodeError(f"{len(data) - stream.tell()} trailing bytes after the record", self.topic)
        return record

    def _walk(self, walk: Walker, data: bytes, limits: Limits) -> None:
        """Refuse ``data`` over ``limits`` or with out-of-range indexes, before decoding it."""
        try:
            end = walk(data, self._header_len, limits)
        except Refused as refused:
            if refused.kind is ErrorKind.LIMIT:
                raise LimitExceeded(refused.field, refused.reason, self.topic) from None
            raise DecodeError(refused.reason, self.topic, refused.field) from None
        except IndexError:
            raise DecodeError("bad Avro body (the record ends early)", self.topic) from None
        if end != len(data):
            raise DecodeError(f"{len(data) - end} trailing bytes after the record", self.topic)

    def _unknown_header(self, header: bytes) -> DecodeError:
        if len(header) < self._header_len:
            return DecodeError(f"{len(header)} bytes is too short for a {self.framing} header", self.topic)
        if self.framing is Framing.SINGLE_OBJECT:
            if header[:2] != SINGLE_OBJECT_MARKER:
                return DecodeError(f"not Avro single-object encoding (starts {header[:2].hex()})", self.topic)
            return DecodeError(
                f"unknown schema fingerprint {header[2:].hex()} (expected {self.fingerprint.hex()}): "
                "the writer used a schema version this reader does not know", self.topic)
        if header[:1] != CONFLUENT_MAGIC:
            return DecodeError(f"not Confluent framing (magic byte {header[0]:#04x})", self.topic)
        return DecodeError(
            f"unknown schema id {int.from_bytes(header[1:], 'big')} (expected {self.schema_id})",
            self.topic)


@cache
def _codec(topic: str, framing: Framing, schema_id: int | None) -> TopicCodec:
    return TopicCodec(topic, framing, schema_id)


def codec_for(topic: str, framing: Framing | str = Framing.SINGLE_OBJECT,
              schema_id: int | None = None) -> TopicCodec:
    """The shared codec of ``topic`` (built once per topic, framing and schema id)."""
    try:
        frame = Framing(framing)
    except ValueError:
        raise SchemaError(
            f"unknown framing {framing!r}: use one of {', '.join(f.value for f in Framing)}"
        ) from None
    return _codec(topic_spec(topic).name, frame, schema_id)
