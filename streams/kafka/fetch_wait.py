"""How long a consumer's fetch may wait: stretched when the broker answers a lagging reader with nothing.

Tansu (the embedded broker) lists every stored batch of a partition on each fetch and stops
listing when the fetch's wait runs out. Once listing takes longer than the wait, a fetch returns
one batch or none, however far behind the reader is: on a one-partition topic of 12,000
one-record batches, a 5 ms fetch returned nothing at offset 11,500 (2 s, three times), while a
100 ms fetch returned the 500 records at once; at 30,000 batches 20 ms was not enough and 50 ms
was (``/tmp/r5probe*.py``, round 5). The facts log holds one batch per decided batch, so it
reaches that size near a million declarations, and a follower with a fixed 5 ms wait then
stopped reading its tail.

A :class:`FetchWait` starts at the configured wait and doubles it whenever
:data:`EMPTY_POLLS` polls in a row came back short: nothing while behind the high watermark, or
fewer than ``short`` records while at least ``short`` more were there. One record with one more
behind it is a busy tail (a record appended while the fetch was answered), not a short fetch. It never shrinks within a process: the partition only grows. Kafka answers a fetch as
soon as records arrive, so a longer wait costs nothing there while records flow; on Tansu an
idle reader sees a new record up to half the wait later.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

EMPTY_POLLS = 3
"""Short polls in a row, while behind, before the wait is doubled."""
CEILING_MS = 1000
"""The longest wait a fetch is stretched to."""


class FetchWait:
    """A fetch wait that doubles (up to a ceiling) while a lagging reader's polls come back short."""

    def __init__(self, floor_ms: int, ceiling_ms: int = CEILING_MS, short: int = 1) -> None:
        self.ms = max(1, floor_ms)
        self._ceiling_ms = max(self.ms, ceiling_ms)
        self._short = short
        self._empty = 0

    @property
    def short(self) -> int:
        """A poll with fewer records than this may be short (only then does the lag behind it matter)."""
        return self._short

    @property
    def poll_timeout_ms(self) -> int:
        """How long a poll should wait for a fetch of the current wait to come back."""
        return 2 * self.ms + 20

    def observe(self, got: int, lag: int) -> bool:
        """Note one poll that returned ``got`` records and left the reader ``lag`` records behind the
        high watermark the broker reported; True when the wait was just stretched."""
        short = lag > 0 and (got == 0 or (got < self._short and lag >= self._short))
        if not short:
            self._empty = 0
            return False
        self._empty += 1
        if self._empty < EMPTY_POLLS or self.ms >= self._ceiling_ms:
            return False
        self._empty = 0
        self.ms = min(2 * self.ms, self._ceiling_ms)
        return True

    def apply(self, consumer: AIOKafkaConsumer) -> None:
        """Make ``consumer``'s next fetch requests wait ``ms`` (aiokafka reads it per request)."""
        fetcher = getattr(consumer, "_fetcher", None)
        if fetcher is not None:
            fetcher._fetch_max_wait_ms = self.ms  # noqa: SLF001
        consumer._fetch_max_wait_ms = self.ms  # noqa: SLF001  # a restarted consumer builds its fetcher from it


def behind(consumer: AIOKafkaConsumer, partitions: Iterable[TopicPartition]) -> int:
    """Records ``consumer`` has yet to read of ``partitions``: below the high watermarks their last fetch responses reported."""
    subscription = consumer._subscription.subscription  # noqa: SLF001
    assignment = subscription.assignment if subscription is not None else None
    if assignment is None:
        return 0
    total = 0
    for tp in partitions:
        highwater = consumer.highwater(tp)
        state = assignment.state_value(tp)
        if highwater is not None and state is not None and state.has_valid_position:
            total += max(0, highwater - state.position)
    return total
