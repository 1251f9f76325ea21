"""Which tabular model serves a declaration filed at ``t``, given the continuous-learning promotion records.

Pure and order-free: live workers and ``zeikan replay`` hold the same records (the
``model-promotions`` topic, or the replay's own recomputation) and so pick the same
model for every declaration.

* **Schedule** — the first boundary (the *origin*) is the first midnight UTC after the
  earliest event of the history; then one every ``every_days`` days.
* **Effect** — a decision taken at boundary ``B`` serves the declarations filed from
  ``B + delay_ms`` on: the learner has that much event time to train without holding
  the stream, and nobody guesses when the model changed.
* **Gate** — :meth:`PromotionBook.covers` says whether every record that can matter
  for ``t`` is known; a declaration whose record has not arrived waits for it.

>>> book = PromotionBook(Schedule(every_days=1, delay_ms=DAY_MS), base="heuristic-1")
>>> book.observe(10 * DAY_MS + 5)          # the earliest event: the origin is day 11
>>> book.serving(12 * DAY_MS), book.covers(12 * DAY_MS), book.covers(12 * DAY_MS - 1)
('heuristic-1', False, True)
>>> book.add({"boundary": 11 * DAY_MS, "effective_from": 12 * DAY_MS, "promoted": True, "candidate": "m1"})
True
>>> book.serving(12 * DAY_MS), book.covers(12 * DAY_MS), book.champion(12 * DAY_MS)
('m1', True, 'm1')
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

DAY_MS = 86_400_000


@dataclass(frozen=True)
class Schedule:
    """When candidates are trained and when their decisions take effect (event time, epoch millis)."""

    every_days: int = 1
    delay_ms: int = DAY_MS

    def __post_init__(self) -> None:
        if self.every_days < 1 or self.delay_ms < 0:
            raise ValueError(f"every_days must be >= 1 and delay_ms >= 0 (got {self.every_days}, {self.delay_ms})")

    @property
    def step_ms(self) -> int:
        """Event time between two boundaries."""
        return self.every_days * DAY_MS

    @staticmethod
    def origin(first_event: int) -> int:
        """The first boundary: the first midnight UTC strictly after the earliest event."""
        return (first_event // DAY_MS + 1) * DAY_MS

    def boundaries(self, origin: int, until: int) -> Iterator[int]:
        """Every boundary from ``origin`` up to ``until`` (inclusive)."""
        return iter(range(origin, until + 1, self.step_ms))

    def last_effective(self, origin: int, t: int) -> int | None:
        """The latest boundary whose decision is in effect at ``t`` (None before the first one takes effect)."""
        if t - self.delay_ms < origin:
            return None
        return origin + (t - self.delay_ms - origin) // self.step_ms * self.step_ms


class PromotionBook:
    """The promotion records known so far (one per boundary) and the model they leave serving at any time."""

    def __init__(self, schedule: Schedule, base: str) -> None:
        self.schedule = schedule
        self.base = base
        """The version serving before any promotion takes effect."""
        self.first_event: int | None = None
        self.records: dict[int, Mapping[str, Any]] = {}
        self._complete_until: int | None = None
        """The latest boundary up to which every scheduled record is known."""
        self._promoted: list[tuple[int, int, str]] = []
        """(boundary, effective_from, candidate) of the promoted records, by boundary."""

    @property
    def origin(self) -> int | None:
        """The first boundary (None until an event was observed)."""
        return None if self.first_event is None else self.schedule.origin(self.first_event)

    def observe(self, event_time: int) -> None:
        """Note an event of the history (the earliest one fixes the schedule's origin)."""
        if self.first_event is None or event_time < self.first_event:
            self.first_event = event_time
            self._complete_until = None
            self._advance()

    def add(self, record: Mapping[str, Any]) -> bool:
        """Take a promotion record; False when its boundary was already known (a duplicate)."""
        boundary = int(record["boundary"])
        if boundary in self.records:
            return False
        self.records[boundary] = record
        if record["promoted"]:
            self._promoted.append((boundary, int(record["effective_from"]), str(record["candidate"])))
            self._promoted.sort()
        self._advance()
        return True

    def _advance(self) -> None:
        origin = self.origin
        if origin is None:
            return
        nxt = origin if self._complete_until is None else self._complete_until + self.schedule.step_ms
        while nxt in self.records:
            self._complete_until = nxt
            nxt += self.schedule.step_ms

    def covers(self, t: int) -> bool:
        """Whether every record in effect at ``t`` is known (before any event: nothing can be in effect)."""
        origin = self.origin
        if origin is None:
            return True
        due = self.schedule.last_effective(origin, t)
        return due is None or (self._complete_until is not None and self._complete_until >= due)

    def serving(self, t: int) -> str:
        """The version that scores a declaration filed at ``t`` (call only when :meth:`covers` is true)."""
        version = self.base
        for _, effective_from, candidate in self._promoted:
            if effective_from <= t:
                version = candidate
        return version

    def champion(self, boundary: int) -> str:
        """The version a candidate trained at ``boundary`` must beat: the latest promoted before it."""
        version = self.base
        for decided, _, candidate in self._promoted:
            if decided < boundary:
                version = candidate
        return version
