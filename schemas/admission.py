"""Admission of one input message: limits, decoding, schema, meaning and event time, in that order.

The one call an agent (or a test) makes per raw message; every refusal is a
:class:`~zeikan.schemas.errors.ValidationError` whose ``kind`` is the dead-letter kind
(``LIMIT``, ``DECODE``, ``SCHEMA``, ``SEMANTIC``, ``IMPLAUSIBLE_TIME``) and whose message is one line.

>>> from zeikan.schemas.examples import example_record, FILED_AT
>>> raw = codec_for("declarations").encode(example_record("declarations"))
>>> admit("declarations", raw, now_ms=FILED_AT)["declaration_id"]
'DEC-2024-000001'
"""

from __future__ import annotations

from zeikan.schemas.codec import TopicCodec, codec_for
from zeikan.schemas.limits import DEFAULT_LIMITS, Limits
from zeikan.schemas.plausibility import check_event_time
from zeikan.schemas.validation import validate


def admit(topic: str, data: bytes, now_ms: int, limits: Limits = DEFAULT_LIMITS,
          codec: TopicCodec | None = None) -> dict:
    """The valid record in ``data`` (framed Avro of ``topic``) processed at ``now_ms``; raises ValidationError."""
    record = (codec or codec_for(topic)).decode(data, limits)
    validate(topic, record)
    check_event_time(topic, record, now_ms, limits)
    return record
