"""Random selection: a minimum share per lane chosen by a keyed hash, reproducible anywhere.

A declaration is drawn when ``keyed_uniform(key, declaration_id)`` falls in the
lane's slice of [0, 1). Because a hash can undershoot its rate on a short run, a
catch-up rule also draws the next declaration of an office whenever that
office's random count for a lane falls below ``floor(rate * volume)``; the
engine sees declarations in one deterministic (event-time) order, so the
catch-up picks the same declarations in the live stream and in replay.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

from zeikan.streams.engine.lanes import SELECTED_LANES, Action


def keyed_uniform(key: str, *parts: str) -> float:
    """A uniform number in [0, 1) from sha256 of ``key`` and ``parts`` (stable across runs)."""
    digest = hashlib.sha256("\x1f".join((key, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class RandomSelector:
    """Draws the random (unbiased) selections, at least ``rates[lane]`` per office and lane."""

    def __init__(self, rates: Mapping[Action, float], key: str) -> None:
        self._rates = {lane: rates.get(lane, 0.0) for lane in SELECTED_LANES}
        self._key = key
        self._volume: dict[str, int] = {}
        self._drawn: dict[tuple[str, Action], int] = {}

    def draw(self, office_id: str, declaration_id: str) -> Action | None:
        """The lane ``declaration_id`` is randomly selected for, or None; counts it either way."""
        volume = self._volume.get(office_id, 0) + 1
        self._volume[office_id] = volume
        u = keyed_uniform(self._key, declaration_id)
        lower = 0.0
        chosen: Action | None = None
        for lane in SELECTED_LANES:
            upper = lower + self._rates[lane]
            if lower <= u < upper:
                chosen = lane
                break
            lower = upper
        if chosen is None:
            chosen = next(
                (
                    lane
                    for lane in SELECTED_LANES
                    if self._drawn.get((office_id, lane), 0) < math.floor(self._rates[lane] * volume)
                ),
                None,
            )
        if chosen is not None:
            self._drawn[(office_id, chosen)] = self._drawn.get((office_id, chosen), 0) + 1
        return chosen
