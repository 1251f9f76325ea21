"""Errors of the event contract: unknown topics, bad bytes, invalid records, incompatible schemas.

A record that fails is reported with a :class:`ValidationError` whose ``kind`` is the
dead-letter ``error_kind`` (one of :class:`ErrorKind`) and whose ``field`` is the path of
the failing field (``items[2].hs_code``), so a consumer can dead-letter it with one
``except ValidationError`` (a :class:`DecodeError` and a :class:`LimitExceeded` are ones too).
"""

from __future__ import annotations

from enum import StrEnum

from zeikan.errors import ZeikanError


class ErrorKind(StrEnum):
    """Why a record went to dead-letters: the DeadLetter ``error_kind`` (a plain string on the wire)."""

    DECODE = "DECODE"
    """The bytes are not a record of the topic (bad framing, bad Avro, an enum or union index out of range)."""
    LIMIT = "LIMIT"
    """The record is larger than a configured limit (bytes, items, string length); refused before decoding."""
    SCHEMA = "SCHEMA"
    """The record does not match the topic's schema (types, required fields)."""
    SEMANTIC = "SEMANTIC"
    """The record breaks a business rule (check digits, codes, amounts, order of times)."""
    IMPLAUSIBLE_TIME = "IMPLAUSIBLE_TIME"
    """An event time too far in the future or the past of the time it was processed."""
    CONFLICT = "CONFLICT"
    """A record whose id was seen before with different content (a conflicting duplicate)."""
    PROCESSING = "PROCESSING"
    """A valid record that a pipeline step failed on."""


class SchemaError(ZeikanError):
    """Base class of the errors raised by :mod:`zeikan.schemas`."""


class UnknownTopic(SchemaError):
    """A topic name that the event contract does not define, or (``on_cluster``) that the cluster does not have."""

    def __init__(self, topic: str, known: list[str], on_cluster: bool = False) -> None:
        self.topic = topic
        if on_cluster:
            super().__init__(
                f"topic {topic!r} does not exist on the cluster (it has: {', '.join(sorted(known)) or '-'}); "
                f"create the contract topics with `zeikan topics --create`"
            )
        else:
            super().__init__(f"unknown topic {topic!r}: use one of {', '.join(sorted(known))}")


class IncompatibleSchema(SchemaError):
    """A schema change that breaks old readers or new readers of old records."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "incompatible schema change: " + "; ".join(problems)
            + " (only add fields that have a default, never remove or retype one)"
        )


class ValidationError(SchemaError):
    """A record that breaks the contract; ``kind`` says how, ``field`` says where."""

    def __init__(self, kind: ErrorKind | str, field: str, reason: str, topic: str = "") -> None:
        self.kind = ErrorKind(kind)
        self.field = field
        self.reason = reason
        self.topic = topic
        where = f"{topic}: " if topic else ""
        at = f"{field}: " if field else ""
        super().__init__(f"{kind} {where}{at}{reason}")


class DecodeError(ValidationError):
    """Bytes (or a text line) that cannot be decoded into a record at all."""

    def __init__(self, reason: str, topic: str = "", field: str = "") -> None:
        super().__init__(ErrorKind.DECODE, field, reason, topic)


class LimitExceeded(ValidationError):
    """A record over a configured size limit (:class:`zeikan.schemas.limits.Limits`), refused undecoded."""

    def __init__(self, field: str, reason: str, topic: str = "") -> None:
        super().__init__(ErrorKind.LIMIT, field, reason, topic)
