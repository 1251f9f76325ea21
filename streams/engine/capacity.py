"""Per-office daily capacity: score thresholds that make the selected share track capacity.

Thresholds for office ``o`` on event-time day ``D`` are computed once, from the
scores of ``o``'s declarations on the previous ``window_days`` days (pooled), so
the live stream and ``zeikan replay`` derive exactly the same cuts. Selections
forced by rules or by random selection on those days are subtracted from the
score-based share, so the *total* selected share tracks capacity.

Rule-forced selections are also capped per office-day: a lane takes at most its
capacity for the day (its expected selections, rounded) of selections that the
model's score did not make, counted over the epochs of that day already folded
(:meth:`CapacityTracker.forced_room`, :func:`cap_floor`). A declaration a rule
sends to a full lane goes to the next lane down that has room, or else the model's
score decides. Decisions are irrevocable and a declaration is decided on the state
as of its epoch's start, so the cap keeps the earliest forced selections of the day;
within the epoch that fills a lane, all of that epoch's forced selections are kept
(the day's overshoot is at most that one epoch's).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
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


def _zero_per_lane() -> dict[Action, int]:
    return {lane: 0 for lane in SELECTED_LANES}


@dataclass
class _DayStats:
    keys: list[float] = field(default_factory=list)
    forced_above: dict[Action, int] = field(default_factory=_zero_per_lane)
    forced_into: dict[Action, int] = field(default_factory=_zero_per_lane)
    """Selections of exactly this lane that the model's score did not make (rules, random): what the cap counts."""


def forced_cap(target: float) -> int:
    """An office-day's cap on forced selections of a lane: its expected selections, rounded half up.

    >>> forced_cap(7.5), forced_cap(7.49), forced_cap(0.2)
    (8, 7, 0)
    """
    return math.floor(target + 0.5)


@dataclass(frozen=True)
class ForcedRoom:
    """Per lane, an office-day's cap on forced selections and how many its folded epochs already used."""

    caps: Mapping[Action, int]
    used: Mapping[Action, int]

    def left(self, lane: Action) -> int:
        """Forced selections ``lane`` can still take that day."""
        return max(0, self.caps[lane] - self.used[lane])


@dataclass(frozen=True)
class CappedFloor:
    """The rules' minimum lane after the office-day cap: ``lane`` None leaves the lane to the model's score."""

    lane: Action | None
    reason: str | None = None
    """Plain-language reason when the cap moved the lane down."""


_CAPPED = re.compile(r"^rules? .+ asked for (?P<lane>[A-Z_]+); the office's \S+ capacity for the day ")


def capped_reason(rule_ids: Sequence[str], asked: Action, cap: int, fallback: Action, by_score: bool) -> str:
    """Why a rule-forced lane was not granted (:func:`capped_lane` reads it back)."""
    rules = ("rule " if len(rule_ids) == 1 else "rules ") + ", ".join(rule_ids)
    then = f"the model's score decides ({fallback.value})" if by_score else f"sent to {fallback.value} instead"
    return (f"{rules} asked for {asked.value}; the office's {asked.value} capacity for the day ({cap}) "
            f"was used by selections forced there earlier: {then}")


def capped_lane(reason: str) -> Action | None:
    """The lane a :func:`capped_reason` says was asked for and refused (None for any other reason).

    >>> capped_lane(capped_reason(["r1"], Action.SCAN, 3, Action.DOCUMENT_CHECK, False))
    <Action.SCAN: 'SCAN'>
    >>> capped_lane("rule r1: cheap phones") is None
    True
    """
    found = _CAPPED.match(reason)
    return Action(found["lane"]) if found else None


def cap_floor(floor: Action | None, rule_ids: Sequence[str], risk: Action, room: ForcedRoom | None) -> CappedFloor:
    """The rules' ``floor`` within the office-day's ``room``: the floor itself, the next lane down with room
    (still above the model's lane ``risk``), or None (the score decides). No room (no history yet): no cap."""
    if floor is None or floor <= risk or room is None:
        return CappedFloor(floor)
    for lane in SELECTED_LANES:
        if risk < lane <= floor and room.left(lane) > 0:
            if lane is floor:
                return CappedFloor(floor)
            return CappedFloor(lane, capped_reason(rule_ids, floor, room.caps[floor], lane, by_score=False))
    return CappedFloor(None, capped_reason(rule_ids, floor, room.caps[floor], risk, by_score=True))


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
        if final > risk:
            stats.forced_into[final] += 1

    def forced_room(self, office_id: str, day: int) -> ForcedRoom | None:
        """The forced-selection cap of ``office_id`` on ``day`` and its use so far (None on prior cuts: no volume yet)."""
        thresholds = self.thresholds(office_id, day)
        if not thresholds.targets:
            return None
        stats = self._days.get(office_id, {}).get(day)
        used = stats.forced_into if stats is not None else _zero_per_lane()
        return ForcedRoom({lane: forced_cap(thresholds.targets[lane]) for lane in SELECTED_LANES}, dict(used))

    def snapshot(self) -> dict[str, Any]:
        """JSON-able day statistics (thresholds are recomputed from them on demand)."""
        return {
            office: {str(day): {"keys": st.keys, "forced": {lane.value: n for lane, n in st.forced_above.items()},
                                "into": {lane.value: n for lane, n in st.forced_into.items()}}
                     for day, st in days.items()}
            for office, days in self._days.items()
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Replace the day statistics by a :meth:`snapshot`."""
        self._cache.clear()
        self._days = {
            office: {int(day): _DayStats(list(st["keys"]), {Action(k): int(n) for k, n in st["forced"].items()},
                                         {Action(k): int(n) for k, n in st["into"].items()})
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
