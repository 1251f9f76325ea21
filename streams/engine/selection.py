"""Random selection: a minimum share per lane chosen by a keyed hash, reproducible anywhere.

A declaration is drawn when ``keyed_uniform(key, declaration_id)`` falls in the
lane's slice of [0, 1). Because a hash can undershoot its rate on a short run, an
office-lane whose random count is behind ``floor(rate * volume)`` (counted over the
epochs folded so far) gets a wider slice until it catches up. Both depend only on the
shared state as of the epoch's start, so the same declarations are drawn in the live
stream, on any number of workers, and in replay.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

from zeikan.streams.engine.lanes import SELECTED_LANES, Action


def keyed_uniform(key: str, *parts: str) -> float:
    """A uniform number in [0, 1) from sha256 of ``key`` and ``parts`` (stable across runs)."""
    digest = hashlib.sha256("\x1f".join((key, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class RandomSelector:
    """Draws the random (unbiased) selections, at least ``rates[lane]`` per office and lane over time.

    ``draw`` reads the counts folded so far and changes nothing (declarations of one
    epoch may be drawn in any order, on any worker); ``record`` folds a decided one in.
    While an office-lane's count is below ``floor(rate * volume)``, its slice of
    [0, 1) is ``catch_up`` times wider.
    """

    def __init__(self, rates: Mapping[Action, float], key: str, catch_up: float = 3.0) -> None:
        self._rates = {lane: rates.get(lane, 0.0) for lane in SELECTED_LANES}
        self._key = key
        self._catch_up = catch_up
        self._volume: dict[str, int] = {}
        self._drawn: dict[tuple[str, Action], int] = {}

    def draw(self, office_id: str, declaration_id: str) -> Action | None:
        """The lane ``declaration_id`` is randomly selected for, or None."""
        volume = self._volume.get(office_id, 0)
        u = keyed_uniform(self._key, declaration_id)
        lower = 0.0
        for lane in SELECTED_LANES:
            rate = self._rates[lane]
            if self._drawn.get((office_id, lane), 0) < math.floor(rate * volume):
                rate *= self._catch_up
            upper = lower + rate
            if lower <= u < upper:
                return lane
            lower = upper
        return None

    def record(self, office_id: str, lane: Action | None) -> None:
        """Count one decided declaration of ``office_id`` (randomly selected for ``lane``, or not)."""
        self._volume[office_id] = self._volume.get(office_id, 0) + 1
        if lane is not None:
            self._drawn[(office_id, lane)] = self._drawn.get((office_id, lane), 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """JSON-able counts."""
        return {"volume": self._volume, "drawn": {f"{o}|{lane.value}": n for (o, lane), n in self._drawn.items()}}

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Replace the counts by a :meth:`snapshot`."""
        self._volume = {k: int(v) for k, v in snapshot["volume"].items()}
        self._drawn = {}
        for key, n in snapshot["drawn"].items():
            office, lane = key.rsplit("|", 1)
            self._drawn[(office, Action(lane))] = int(n)
