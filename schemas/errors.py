"""Errors of the event contract: unknown topics, bad bytes, invalid records, incompatible schemas.

A record that fails is reported with a :class:`ValidationError` whose ``kind`` is the
dead-letter ``error_kind`` (``DECODE``, ``SCHEMA`` or ``SEMANTIC``) and whose ``field``
is the path of the failing field (``items[2].hs_code``), so a consumer can dead-letter
it with one ``except ValidationError`` (a :class:`DecodeError` is one too).
"""

from __future__ import annotations

from typing import Literal

from zeikan.errors import ZeikanError

ErrorKind = Literal["DECODE", "SCHEMA", "SEMANTIC"]


class SchemaError(ZeikanError):
    """Base class of the errors raised by :mod:`zeikan.schemas`."""


class UnknownTopic(SchemaError):
    """A topic name that the event contract does not define."""

    def __init__(self, topic: str, known: list[str]) -> None:
        self.topic = topic
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

    def __init__(self, kind: ErrorKind, field: str, reason: str, topic: str = "") -> None:
        self.kind: ErrorKind = kind
        self.field = field
        self.reason = reason
        self.topic = topic
        where = f"{topic}: " if topic else ""
        at = f"{field}: " if field else ""
        super().__init__(f"{kind} {where}{at}{reason}")


class DecodeError(ValidationError):
    """Bytes (or a text line) that cannot be decoded into a record at all."""

    def __init__(self, reason: str, topic: str = "") -> None:
        super().__init__("DECODE", "", reason, topic)
