"""Per-office daily capacity: score thresholds that make the selected share track capacity.

Thresholds for office ``o`` on event-time day ``D`` are computed once, from the
scores of ``o``'s declarations on the previous ``window_days`` days (pooled), so
the live stream and ``zeikan replay`` derive exactly the same cuts. Selections
forced by rules or by random selection on those days are subtracted from the
score-based share, so the *total* selected share tracks capacity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any
from dataclasses import dataclass, field

from zeikan.streams.engine.config import DAY_MS, EngineConfig
from zeikan.streams.engine.lanes import SELECTED_LANES, Action


def event_day(epoch_ms: int) -> int:
    """The UTC event-time day number of an epoch-millis timestamp."""
    return epoch_ms // DAY_MS


@dataclass(frozen=True)
class Thresholds:
    """Score cuts of one office-day: a rank key at or above ``cuts[lane]`` selects that lane."""

    cuts: Mapping[Action, float]
    basis: str
    targets: Mapping[Action, float] = field(default_factory=dict)
    """Expected selections per lane on that day (capacity share x expected volume); empty for the prior."""

    def risk_action(self, rank_key: float) -> Action:
        """The most intrusive lane whose cut ``rank_key`` reaches (RELEASE if none)."""
        for lane in SELECTED_LANES:
            if rank_key >= self.cuts[lane]:
                return lane
        return Action.RELEASE


@dataclass
class _DayStats:
    keys: list[float] = field(default_factory=list)
    forced_above: dict[Action, int] = field(default_factory=lambda: {lane: 0 for lane in SELECTED_LANES})


def _kth_largest_cut(sorted_keys: list[float], share: float) -> float:
    n = len(sorted_keys)
    k = round(share * n)
    if k <= 0:
        return math.inf
    if k >= n:
        return -math.inf
    return sorted_keys[n - k]


class CapacityTracker:
    """Keeps recent score history per office and derives each office-day's thresholds."""

    def __init__(self, config: EngineConfig, on_thresholds: Callable[[str, Thresholds], None] | None = None) -> None:
        self._config = config
        self._on_thresholds = on_thresholds
        self._days: dict[str, dict[int, _DayStats]] = {}
        self._cache: dict[tuple[str, int], Thresholds] = {}

    def thresholds(self, office_id: str, day: int) -> Thresholds:
        """Cuts for ``office_id`` on ``day``, fixed at first use from days before ``day``."""
        key = (office_id, day)
        found = self._cache.get(key)
        if found is None:
            found = self._compute(office_id, day)
            self._cache[key] = found
            if self._on_thresholds is not None:
                self._on_thresholds(office_id, found)
            self._forget_before(office_id, day - self._config.window_days)
        return found

    def record(self, office_id: str, day: int, rank_key: float, risk: Action, final: Action) -> None:
        """Fold one decided declaration into its office-day history."""
        stats = self._days.setdefault(office_id, {}).setdefault(day, _DayStats())
        stats.keys.append(rank_key)
        for lane in SELECTED_LANES:
            if final >= lane > risk:
                stats.forced_above[lane] += 1

    def snapshot(self) -> dict[str, Any]:
        """JSON-able day statistics (thresholds are recomputed from them on demand)."""
        return {
            office: {str(day): {"keys": st.keys, "forced": {lane.value: n for lane, n in st.forced_above.items()}}
                     for day, st in days.items()}
            for office, days in self._days.items()
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Replace the day statistics by a :meth:`snapshot`."""
        self._cache.clear()
        self._days = {
            office: {int(day): _DayStats(list(st["keys"]), {Action(k): int(n) for k, n in st["forced"].items()})
                     for day, st in days.items()}
            for office, days in snapshot.items()
        }

    def _compute(self, office_id: str, day: int) -> Thresholds:
        cfg = self._config
        history = [
            stats
            for d, stats in self._days.get(office_id, {}).items()
            if day - cfg.window_days <= d < day
        ]
        pool = sorted(k for stats in history for k in stats.keys)
        if len(pool) < cfg.min_history:
            return Thresholds(cuts={lane: cfg.prior_thresholds[lane] for lane in SELECTED_LANES}, basis="prior")
        expected_volume = len(pool) / len(history)
        cuts: dict[Action, float] = {}
        targets: dict[Action, float] = {}
        cumulative = 0.0
        previous_cut = math.inf
        for lane in SELECTED_LANES:
            lane_share = cfg.capacity_share(office_id, lane, expected_volume)
            targets[lane] = lane_share * expected_volume
            cumulative += lane_share
            forced = sum(stats.forced_above[lane] for stats in history)
            share = max(0.0, cumulative - forced / len(pool))
            previous_cut = min(previous_cut, _kth_largest_cut(pool, share))
            cuts[lane] = previous_cut
        return Thresholds(cuts=cuts, basis="history", targets=targets)

    def _forget_before(self, office_id: str, day: int) -> None:
        days = self._days.get(office_id, {})
        for old in [d for d in days if d < day]:
            del days[old]
        for old_key in [k for k in self._cache if k[0] == office_id and k[1] < day]:
            del self._cache[old_key]
