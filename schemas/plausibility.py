"""Event time against processing time: an input event from too far in the future or past is refused.

One outlier must not move the engine's clock: a declaration filed in 2099 is valid Avro and
passes :func:`~zeikan.schemas.validation.validate` (times up to 2100), so the agent calls
:func:`check_event_time` with its processing time as well, and dead-letters the record with
kind ``IMPLAUSIBLE_TIME``. Windows come from :class:`Limits` (24 h ahead, 10 years back;
a declaration's expected arrival at most a year after filing).

>>> from zeikan.schemas.examples import example_record, FILED_AT
>>> record = example_record("declarations")
>>> check_event_time("declarations", record, now_ms=FILED_AT + 3_600_000)
>>> record["filed_at"] = 4_102_358_400_000  # 2099-12-31
>>> check_event_time("declarations", record, now_ms=FILED_AT)
Traceback (most recent call last):
...
zeikan.schemas.errors.ValidationError: IMPLAUSIBLE_TIME declarations: filed_at: 2099-12-31T00:00:00Z is 27697.7 days after processing time 2024-03-01T08:00:00Z, the limit is 24 h
"""

from __future__ import annotations

from datetime import UTC, datetime

from zeikan.schemas.codec import topic_spec
from zeikan.schemas.contract import DECLARATIONS, INPUT_TOPICS
from zeikan.schemas.errors import ErrorKind, ValidationError
from zeikan.schemas.limits import DAY_MS, DEFAULT_LIMITS, HOUR_MS, Limits


def check_event_time(topic: str, record: dict, now_ms: int, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise :class:`ValidationError` (kind IMPLAUSIBLE_TIME) when an input record's time is implausible at ``now_ms``.

    Only input topics are checked (zeikan's own outputs carry its own times). Call it after
    :func:`~zeikan.schemas.validation.validate`, which guarantees the fields exist.
    """
    spec = topic_spec(topic)
    if spec.name not in INPUT_TOPICS:
        return
    field = spec.time_field
    at = int(record[field])
    if at - now_ms > limits.max_future_ms:
        _implausible(topic, field, f"{_iso(at)} is {_span(at - now_ms)} after processing time {_iso(now_ms)}, "
                                   f"the limit is {limits.max_future_hours:g} h")
    if now_ms - at > limits.max_past_ms:
        _implausible(topic, field, f"{_iso(at)} is {_span(now_ms - at)} before processing time {_iso(now_ms)}, "
                                   f"the limit is {limits.max_past_days:g} days")
    if spec.name == DECLARATIONS.name and record["expected_arrival"] - at > limits.max_arrival_lead_ms:
        arrival = int(record["expected_arrival"])
        _implausible(topic, "expected_arrival", f"{_iso(arrival)} is {_span(arrival - at)} after filed_at, "
                                                f"the limit is {limits.max_arrival_lead_days:g} days")


def _implausible(topic: str, field: str, reason: str) -> None:
    raise ValidationError(ErrorKind.IMPLAUSIBLE_TIME, field, reason, topic)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _span(ms: int) -> str:
    return f"{ms / HOUR_MS:.1f} h" if ms < 2 * DAY_MS else f"{ms / DAY_MS:.1f} days"
