"""Limits on what an input record may be, checked before it is decoded or trusted: one frozen settings object.

Every field has an environment variable in :attr:`Limits.ENV` (read once at the edge with
:meth:`Limits.from_env`); the defaults fit the contract with room to spare:

>>> limits = Limits()
>>> limits.max_record_bytes, limits.max_collection_items, limits.max_future_ms
(1048576, 1000, 86400000)
>>> Limits.from_env({"ZEIKAN_MAX_RECORD_BYTES": "4096"}).max_record_bytes
4096
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from zeikan.schemas.errors import SchemaError

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
DEAD_LETTER_FLOOR_BYTES = 16_384
"""The smallest dead-letter budget allowed: room for the reason, key and source however long they are."""


class InvalidLimit(SchemaError):
    """A limit set to a value it cannot take."""

    def __init__(self, name: str, value: object, expected: str) -> None:
        super().__init__(f"limit {name}={value!r} is invalid: expected {expected} (env {Limits.ENV[name]})")


@dataclass(frozen=True)
class Limits:
    """Size and time limits of input records; a record over one is refused with a one-line reason."""

    max_record_bytes: int = 1_048_576
    """Largest encoded record (framing included) that is decoded at all (``ZEIKAN_MAX_RECORD_BYTES``)."""
    max_collection_items: int = 1_000
    """Most items of one array or entries of one map, over all its blocks (``ZEIKAN_MAX_COLLECTION_ITEMS``)."""
    max_total_items: int = 10_000
    """Most array items and map entries in one record, all collections together (``ZEIKAN_MAX_TOTAL_ITEMS``)."""
    max_string_bytes: int = 65_536
    """Longest string or bytes value, in bytes (``ZEIKAN_MAX_STRING_BYTES``)."""
    max_future_hours: float = 24.0
    """How far after processing time an event may say it happened (``ZEIKAN_MAX_FUTURE_HOURS``)."""
    max_past_days: float = 3_650.0
    """How far before processing time an event may say it happened (``ZEIKAN_MAX_PAST_DAYS``)."""
    max_arrival_lead_days: float = 365.0
    """How long after filing a declaration's expected arrival may be (``ZEIKAN_MAX_ARRIVAL_LEAD_DAYS``)."""
    dead_letter_max_bytes: int = 65_536
    """Largest encoded dead letter; its raw payload is truncated to fit (``ZEIKAN_DEAD_LETTER_MAX_BYTES``)."""

    ENV: ClassVar[dict[str, str]] = {
        "max_record_bytes": "ZEIKAN_MAX_RECORD_BYTES",
        "max_collection_items": "ZEIKAN_MAX_COLLECTION_ITEMS",
        "max_total_items": "ZEIKAN_MAX_TOTAL_ITEMS",
        "max_string_bytes": "ZEIKAN_MAX_STRING_BYTES",
        "max_future_hours": "ZEIKAN_MAX_FUTURE_HOURS",
        "max_past_days": "ZEIKAN_MAX_PAST_DAYS",
        "max_arrival_lead_days": "ZEIKAN_MAX_ARRIVAL_LEAD_DAYS",
        "dead_letter_max_bytes": "ZEIKAN_DEAD_LETTER_MAX_BYTES",
    }

    def __post_init__(self) -> None:
        for name in ("max_record_bytes", "max_collection_items", "max_total_items", "max_string_bytes"):
            if getattr(self, name) < 1:
                raise InvalidLimit(name, getattr(self, name), "an integer >= 1")
        for name in ("max_future_hours", "max_past_days", "max_arrival_lead_days"):
            if not getattr(self, name) > 0:
                raise InvalidLimit(name, getattr(self, name), "a number > 0")
        if self.dead_letter_max_bytes < DEAD_LETTER_FLOOR_BYTES:
            raise InvalidLimit("dead_letter_max_bytes", self.dead_letter_max_bytes,
                               f"an integer >= {DEAD_LETTER_FLOOR_BYTES}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: Any) -> Limits:
        """Limits from ``flags`` (``None`` = not given), then ``env`` (default ``os.environ``), then defaults."""
        from zeikan.env_settings import settings_from_env

        return settings_from_env(cls, env, flags)

    @property
    def max_future_ms(self) -> int:
        """:attr:`max_future_hours` in millis."""
        return int(self.max_future_hours * HOUR_MS)

    @property
    def max_past_ms(self) -> int:
        """:attr:`max_past_days` in millis."""
        return int(self.max_past_days * DAY_MS)

    @property
    def max_arrival_lead_ms(self) -> int:
        """:attr:`max_arrival_lead_days` in millis."""
        return int(self.max_arrival_lead_days * DAY_MS)

    @property
    def dead_letter_raw_bytes(self) -> int:
        """Most raw payload bytes a dead letter keeps: it must stay readable under these same limits."""
        return min(self.dead_letter_max_bytes, self.max_string_bytes)


DEFAULT_LIMITS = Limits()
"""The limits used when a caller passes none."""
