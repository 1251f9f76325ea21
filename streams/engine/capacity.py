"""Per-office daily capacity: score thresholds that make the selected share track capacity.

Thresholds for office ``o`` on event-time day ``D`` are a function of the folded
state: the scores of ``o``'s declarations on the previous ``window_days`` days
(pooled) and the bucket as rolled into ``D``, so the live stream, a restarted
worker and ``zeikan replay`` derive exactly the same cuts from the same state (they
are kept once computed, and dropped when a late declaration of an earlier day of
``o`` is folded, which also changes the state's version). Selections
forced by rules or by random selection on those days are subtracted from the
score-based share, so the *total* selected share tracks capacity.

Each office-lane also has a token bucket (:class:`LaneBucket`): every declaration
folded adds the lane's capacity share to it, every selection made into the lane (by
the score, rules or the random sample) takes one, and a lane is full while its bucket
holds less than one (:meth:`CapacityTracker.lane_room`, :func:`grant_lane`). The
tokens follow the office's actual volume, not the volume the previous days lead one
to expect: a day busier than its history gets more room, one quieter gets less. The
fractional remainder is carried from day to day, so a lane expected less than once a
day still gets its share over several days. At a day's start the balance is capped at
the expected selections of the window's days (at least one): a lane may make up for a
quiet spell, but an idle lane does not hoard beyond that; a debt (the epoch that
filled the lane kept all its selections) is paid back. When the office's first declaration
of a day is folded, the bucket is rolled over every day with declarations since its own,
from per-day counts, and the days past the window are forgotten: at the same point of the
facts log on every worker, whether or not it decides any of the office's declarations
(a decision before that point reads a rolled copy). Neither the order in which an
epoch's decisions are folded nor the days a worker happened to decide matter. It starts, full, on an office's first
day with history (the prior cuts have no cap) and is in the snapshot. Once a lane is
full, a declaration that a rule or the model's score sends there goes to the next lane
down that has room and that its score reaches, or is released, and its reasons say
so; the random control sample is counted but never refused. The score cuts alone
track capacity only on average over days: without the cap, rules that force more
each day than the days before put the office over its capacity. Decisions are
irrevocable and a declaration is decided on the state as of its epoch's start, so
a full lane keeps the day's earliest selections; within the epoch that fills a
lane, all of that epoch's are kept (the day's excess is at most that epoch's).

The *container lanes* (``EngineConfig.container_lanes``: SCAN and PHYSICAL_EXAM by default) rank declarations by
their *container key* (:func:`container_key`): for a declaration with containers the seizure key's score when the
registry serves one (``streams/engine/core.py``), else the rank key, and behind every container, still in score
order, for loose cargo. Only a container can hide concealment, which only a scan or a physical
exam finds, so those lanes go first to the containers the model ranks highest; an office without containers still
fills them by score. The cuts are taken lane by lane, most intrusive first, each by its own key over the declarations
that the lanes above did not take (:func:`ladder_cuts`); ``Outcome.container_key`` carries the key.

A rule's ask for a lane above the score's lane must also reach the office-day's *rule
cut* for that lane (:attr:`Thresholds.rule_cuts`): the rank key that keeps the highest
(lane share - random rate) x volume of the rules' asks of the window's days, counted
before any cap (``Outcome.rule_lane``). So a lane that the rules ask for more often than
it has room for goes to their asks the model ranks highest, the same way on every worker
and in replay, instead of to the day's first ones; an ask below the cut gets the score's
lane (:func:`grant_lane`, :func:`ranked_out_reason`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from dataclasses import dataclass, field

from zeikan.streams.engine.config import DAY_MS, EngineConfig
from zeikan.streams.engine.lanes import SELECTED_LANES, Action, strongest


def event_day(epoch_ms: int) -> int:
    """The UTC event-time day number of an epoch-millis timestamp."""
    return epoch_ms // DAY_MS


LOOSE_CARGO_OFFSET = 2.0
"""How far below its rank key loose cargo ranks in the container lanes: more than the score's range [0, 1]."""


def container_key(rank_key: float, has_containers: bool) -> float:
    """The key a declaration ranks by in the container lanes: ``rank_key`` (the seizure key's score, else the risk
    score, jittered) with containers, lower without.

    >>> container_key(0.3, True), container_key(0.9, False) < container_key(0.1, True)
    (0.3, True)
    """
    return rank_key if has_containers else rank_key - LOOSE_CARGO_OFFSET


@dataclass(frozen=True)
class Keys:
    """A declaration's two rank keys: the model's score (jittered) and its :func:`container_key`."""

    rank: float
    container: float

    def of(self, lane: Action, container_lanes: frozenset[Action]) -> float:
        """The key ``lane`` ranks by."""
        return self.container if lane in container_lanes else self.rank


@dataclass(frozen=True)
class Thresholds:
    """Score cuts of one office-day: a key at or above ``cuts[lane]`` (the lane's key) selects that lane."""

    cuts: Mapping[Action, float]
    basis: str
    targets: Mapping[Action, float] = field(default_factory=dict)
    """Expected selections per lane on that day (capacity share x expected volume); empty for the prior."""
    shares: Mapping[Action, float] = field(default_factory=dict)
    """Capacity share per lane: the tokens each declaration of that day adds to the lane's bucket; empty for the prior."""
    carry: Mapping[Action, float] = field(default_factory=dict)
    """Each lane's bucket balance at the day's start; empty for the prior."""
    rule_cuts: Mapping[Action, float] = field(default_factory=dict)
    """Per lane, the key a rule's ask for that lane (above the score's lane) must reach; empty for the prior."""
    container_lanes: frozenset[Action] = frozenset()
    """The lanes whose cuts (and rule cuts) are on the container key."""

    def rule_cut(self, lane: Action | None) -> float:
        """The key a rule's ask for ``lane`` must reach (-inf: every ask; None: no ask)."""
        return -math.inf if lane is None else self.rule_cuts.get(lane, -math.inf)

    def key(self, lane: Action | None, keys: Keys) -> float:
        """The key ``lane`` ranks ``keys``' declaration by (the rank key for None)."""
        return keys.rank if lane is None else keys.of(lane, self.container_lanes)

    def risk_action(self, keys: Keys) -> Action:
        """The most intrusive lane whose cut the declaration's key for it reaches (RELEASE if none)."""
        for lane in SELECTED_LANES:
            if keys.of(lane, self.container_lanes) >= self.cuts[lane]:
                return lane
        return Action.RELEASE


def _zero_per_lane() -> dict[Action, int]:
    return {lane: 0 for lane in SELECTED_LANES}


def _empty_per_lane() -> dict[Action, list[float]]:
    return {lane: [] for lane in SELECTED_LANES}


@dataclass
class _DayStats:
    keys: list[float] = field(default_factory=list)
    container_keys: list[float] = field(default_factory=list)
    """The container key of each of ``keys``' declarations, in the same order."""
    forced_above: dict[Action, int] = field(default_factory=_zero_per_lane)
    selected: dict[Action, int] = field(default_factory=_zero_per_lane)
    """Selections of each lane (score, rules, random): what the lane buckets take."""
    asks: dict[Action, list[float]] = field(default_factory=_empty_per_lane)
    """Keys (the lane's) of the rules' asks for each lane above the score's lane, granted or not: the rule cuts' pool."""


def day_burst(target: float, window_days: int) -> float:
    """Most tokens a lane's bucket may carry into a day: the expected selections of the ``window_days`` days the cuts
    look back on (``target`` a day), at least one.

    >>> day_burst(7.5, 3), day_burst(0.2, 3)
    (22.5, 1.0)
    """
    return max(1.0, window_days * target)


@dataclass
class LaneBucket:
    """An office's lane token balances at the start of ``day``."""

    day: int
    balance: dict[Action, float]

    def accrue(self, stats: _DayStats, shares: Mapping[Action, float]) -> None:
        """Add the tokens of one day's declarations (``shares`` each) and take its selections."""
        for lane in SELECTED_LANES:
            self.balance[lane] += shares[lane] * len(stats.keys) - stats.selected[lane]

    def start_day(self, day: int, bursts: Mapping[Action, float]) -> None:
        """Move to the start of the later ``day``, the balance capped at its ``bursts``."""
        self.day = day
        for lane in SELECTED_LANES:
            self.balance[lane] = min(self.balance[lane], bursts[lane])

    def to_json(self) -> dict[str, Any]:
        """JSON-able (floats round-trip exactly)."""
        return {"day": self.day, "balance": {lane.value: v for lane, v in self.balance.items()}}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> "LaneBucket":
        """Inverse of :meth:`to_json`."""
        return cls(int(raw["day"]), {Action(k): float(v) for k, v in raw["balance"].items()})


@dataclass(frozen=True)
class LaneRoom:
    """Per lane, an office's tokens so far that day (its carry plus its declarations' shares) and the selections made."""

    tokens: Mapping[Action, float]
    used: Mapping[Action, int]

    def cap(self, lane: Action) -> int:
        """Selections ``lane`` may have made so far that day (whole tokens)."""
        return max(0, math.floor(self.tokens[lane] + 1e-9))

    def left(self, lane: Action) -> int:
        """Selections ``lane`` can still take now."""
        return max(0, self.cap(lane) - self.used[lane])


@dataclass(frozen=True)
class GrantedLane:
    """The lane that the score and the rules get within the office's lane buckets (the random sample comes on top)."""

    lane: Action
    floor: Action | None
    """The rules' minimum lane when granted (the lane reaches it), else None."""
    reason: str | None = None
    """Plain-language reason when a full lane moved the declaration down."""
    ranked_out: str | None = None
    """Plain-language reason when the rules' ask was below the office's rule cut for its lane (the score decides)."""


MODEL_ASKED = "the model's score"
_CAPPED = re.compile(r"^(?P<who>.+) asked for (?P<lane>[A-Z_]+); the office's \S+ capacity so far today \(\d+\) was used")


def capped_reason(who: str, asked: Action, cap: int, fallback: Action) -> str:
    """Why a full lane refused what ``who`` asked for (:func:`capped_ask` reads it back)."""
    then = "released" if fallback is Action.RELEASE else f"{fallback.value} instead"
    return f"{who} asked for {asked.value}; the office's {asked.value} capacity so far today ({cap}) was used by earlier selections: {then}"


def capped_ask(reason: str) -> tuple[str, Action] | None:
    """("rules" or "model", the lane refused) of a :func:`capped_reason`; None for any other reason.

    >>> capped_ask(capped_reason("rule r1", Action.SCAN, 3, Action.RELEASE))
    ('rules', <Action.SCAN: 'SCAN'>)
    >>> capped_ask(capped_reason(MODEL_ASKED, Action.SCAN, 3, Action.DOCUMENT_CHECK))[0], capped_ask("rule r1: cheap")
    ('model', None)
    """
    found = _CAPPED.match(reason)
    if found is None:
        return None
    return ("model" if found["who"] == MODEL_ASKED else "rules"), Action(found["lane"])


_RANKED_OUT = re.compile(r"^.+ asked for (?P<lane>[A-Z_]+); its rank key [-\d.e+inf]+ is below the office's \S+ rule cut")


def ranked_out_reason(who: str, asked: Action, rank_key: float, cut: float) -> str:
    """Why a rule's ask was not granted: below the office's rule cut for the lane (:func:`ranked_out_ask` reads it)."""
    return (f"{who} asked for {asked.value}; its rank key {rank_key:.4f} is below the office's {asked.value} rule cut "
            f"{cut:.4f} (the rules' asks of the previous days ranked by the model's score, the lane's capacity kept): "
            f"the score decides")


def ranked_out_ask(reason: str) -> Action | None:
    """The lane of a :func:`ranked_out_reason`; None for any other reason.

    >>> ranked_out_ask(ranked_out_reason("rule r1", Action.SCAN, 0.1, 0.2)), ranked_out_ask("rule r1: cheap")
    (<Action.SCAN: 'SCAN'>, None)
    """
    found = _RANKED_OUT.match(reason)
    return None if found is None else Action(found["lane"])


def _rules_named(floor_rules: Sequence[str]) -> str:
    return ("rule " if len(floor_rules) == 1 else "rules ") + ", ".join(floor_rules)


def grant_lane(risk: Action, floor: Action | None, floor_rules: Sequence[str], room: LaneRoom | None,
               rank_key: float = math.inf, rule_cut: float = -math.inf) -> GrantedLane:
    """The stronger of the score's lane ``risk`` and the rules' ``floor`` if it has room left; else the first lane
    below it with room that the score reaches (a rule's lane falls back to the score's), or RELEASE.

    A rules' ``floor`` above ``risk`` whose ``rank_key`` is below ``rule_cut`` (the office's rule cut for that lane)
    is not asked for: the score's lane is. No room (prior cuts, no volume yet): no cap."""
    ranked_out = None
    if floor is not None and floor > risk and rank_key < rule_cut:
        ranked_out = ranked_out_reason(_rules_named(floor_rules), floor, rank_key, rule_cut)
        floor = None
    wanted = strongest(risk, floor)
    if room is None or wanted is Action.RELEASE or room.left(wanted) > 0:
        return GrantedLane(wanted, floor, ranked_out=ranked_out)
    fallback = next((lane for lane in SELECTED_LANES if lane < wanted and lane <= risk and room.left(lane) > 0),
                    Action.RELEASE)
    by_rules = floor is not None and floor > risk
    who = _rules_named(floor_rules) if by_rules else MODEL_ASKED
    granted_floor = floor if floor is not None and fallback >= floor else None
    return GrantedLane(fallback, granted_floor, capped_reason(who, wanted, room.cap(wanted), fallback), ranked_out)


def top_asks_cut(asks: Sequence[float], keep: float) -> float:
    """The rank key that keeps the ``keep`` (rounded) highest of ``asks``: -inf when that is all of them, inf when none.

    >>> top_asks_cut([0.1, 0.7, 0.4, 0.9], 2), top_asks_cut([0.1, 0.7], 2), top_asks_cut([0.1], 0.4)
    (0.7, -inf, inf)
    """
    k = round(keep)
    if k >= len(asks):
        return -math.inf
    if k <= 0:
        return math.inf
    return sorted(asks)[len(asks) - k]


def ladder_cuts(keys: Sequence[Keys], targets: Mapping[Action, int], container_lanes: frozenset[Action]) -> dict[Action, float]:
    """Each lane's cut, most intrusive first: the one that keeps, of the declarations the lanes above left, the ones
    with the highest key for the lane, so that ``targets[lane]`` declarations in all reach it or a lane above.

    A lane whose target the lanes above already reach takes nobody (its cut is the last cut on its key, or inf).

    >>> k = [Keys(r, r if c else r - 2) for r, c in [(0.9, False), (0.8, True), (0.5, True), (0.4, False)]]
    >>> cuts = ladder_cuts(k, {Action.PHYSICAL_EXAM: 1, Action.SCAN: 2, Action.DOCUMENT_CHECK: 3}, frozenset({Action.SCAN}))
    >>> [cuts[lane] for lane in SELECTED_LANES]
    [0.9, 0.8, 0.5]
    """
    left = list(keys)
    cuts: dict[Action, float] = {}
    last_cut = {True: math.inf, False: math.inf}
    for lane in SELECTED_LANES:
        on_container = lane in container_lanes
        ranked = sorted((k.of(lane, container_lanes) for k in left), reverse=True)
        wanted = targets[lane] - (len(keys) - len(left))
        cut = math.inf if wanted <= 0 else (-math.inf if wanted >= len(ranked) else ranked[wanted - 1])
        cut = last_cut[on_container] = min(last_cut[on_container], cut)
        cuts[lane] = cut
        left = [k for k in left if k.of(lane, container_lanes) < cut]
    return cuts


class CapacityTracker:
    """Keeps recent score history per office and derives each office-day's thresholds."""

    def __init__(self, config: EngineConfig, on_thresholds: Callable[[str, Thresholds], None] | None = None) -> None:
        self._config = config
        self._container_lanes = frozenset(config.container_lanes)
        self._on_thresholds = on_thresholds
        self._days: dict[str, dict[int, _DayStats]] = {}
        self._buckets: dict[str, LaneBucket] = {}
        self._cache: dict[tuple[str, int], Thresholds] = {}

    def thresholds(self, office_id: str, day: int) -> Thresholds:
        """Cuts for ``office_id`` on ``day`` from the days before it: a function of what was folded (computed once and
        kept until a late declaration of an earlier day is folded; computing them changes no state)."""
        key = (office_id, day)
        found = self._cache.get(key)
        if found is None:
            found = self._compute(office_id, day)
            self._cache[key] = found
            if self._on_thresholds is not None:
                self._on_thresholds(office_id, found)
        return found

    def record(self, office_id: str, day: int, rank_key: float, risk: Action, final: Action,
               rule_lane: Action | None = None, container: float | None = None) -> None:
        """Fold one decided declaration into its office-day history (``rule_lane``: what the rules asked for;
        ``container``: its container key, the rank key when None)."""
        days = self._days.setdefault(office_id, {})
        latest = max(days, default=day)
        if day > latest:
            self._begin_day(office_id, day)
        elif day < latest:  # a late declaration changes the history of the days after it: their cuts are recomputed
            for later in [k for k in self._cache if k[0] == office_id and k[1] > day]:
                del self._cache[later]
        stats = days.get(day)
        if stats is None:
            stats = days[day] = _DayStats()
        keys = Keys(rank_key, rank_key if container is None else container)
        stats.keys.append(keys.rank)
        stats.container_keys.append(keys.container)
        if rule_lane is not None and rule_lane > risk:
            stats.asks[rule_lane].append(keys.of(rule_lane, self._container_lanes))
        for lane in SELECTED_LANES:
            if final >= lane > risk:
                stats.forced_above[lane] += 1
        if final is not Action.RELEASE:
            stats.selected[final] += 1

    def lane_room(self, office_id: str, day: int) -> LaneRoom | None:
        """The lane tokens of ``office_id`` so far on ``day`` and their use (None on prior cuts: no volume yet)."""
        thresholds = self.thresholds(office_id, day)
        if not thresholds.shares:
            return None
        stats = self._days.get(office_id, {}).get(day)
        used = stats.selected if stats is not None else _zero_per_lane()
        volume = len(stats.keys) if stats is not None else 0
        return LaneRoom({lane: thresholds.carry[lane] + thresholds.shares[lane] * volume for lane in SELECTED_LANES},
                        dict(used))

    def snapshot(self) -> dict[str, Any]:
        """JSON-able day statistics and lane buckets (thresholds are recomputed from them on demand)."""
        return {
            "days": {
                office: {str(day): {"keys": st.keys, "container_keys": st.container_keys, "forced": {lane.value: n for lane, n in st.forced_above.items()},
                                    "selected": {lane.value: n for lane, n in st.selected.items()},
                                    "asks": {lane.value: keys for lane, keys in st.asks.items()}}
                         for day, st in days.items()}
                for office, days in self._days.items()
            },
            "buckets": {office: bucket.to_json() for office, bucket in self._buckets.items()},
        }

    def restore(self, snapshot: Mapping[str, Any]) -> None:
        """Replace the day statistics and buckets by a :meth:`snapshot` (KeyError if it has another layout)."""
        self._cache.clear()
        self._days = {
            office: {int(day): _DayStats(list(st["keys"]), [float(x) for x in st["container_keys"]],
                                         {Action(k): int(n) for k, n in st["forced"].items()},
                                         {Action(k): int(n) for k, n in st["selected"].items()},
                                         {Action(k): [float(x) for x in keys] for k, keys in st["asks"].items()})
                     for day, st in days.items()}
            for office, days in snapshot["days"].items()
        }
        self._buckets = {office: LaneBucket.from_json(raw) for office, raw in snapshot["buckets"].items()}

    def _history(self, office_id: str, day: int) -> list[_DayStats]:
        cfg = self._config
        return [stats for d, stats in self._days.get(office_id, {}).items() if day - cfg.window_days <= d < day]

    def _plan(self, office_id: str, day: int) -> tuple[dict[Action, float], dict[Action, float]] | None:
        """``day``'s expected selections and capacity share per lane, from the days before it (None: too little
        history, the prior cuts)."""
        history = self._history(office_id, day)
        volume = sum(len(stats.keys) for stats in history)
        if volume < self._config.min_history:
            return None
        expected_volume = volume / len(history)
        shares = {lane: self._config.capacity_share(office_id, lane, expected_volume) for lane in SELECTED_LANES}
        return {lane: shares[lane] * expected_volume for lane in SELECTED_LANES}, shares

    def _bursts(self, targets: Mapping[Action, float]) -> dict[Action, float]:
        return {lane: day_burst(targets[lane], self._config.window_days) for lane in SELECTED_LANES}

    def _begin_day(self, office_id: str, day: int) -> None:
        """The office's next day begins in the fold: roll its bucket into the day and forget the days past the window,
        on every worker at the same point of the facts log (also one that decides none of the office's declarations)."""
        plan = self._plan(office_id, day)
        if plan is not None:
            self._buckets[office_id] = self._rolled(office_id, day, plan[0])
        self._forget_before(office_id, day - self._config.window_days - 1)  # one more: the bucket rolls it over

    def _carry(self, office_id: str, day: int, targets: Mapping[Action, float]) -> dict[Action, float]:
        """Each lane's bucket balance at ``day``'s start (``targets``: that day's expected selections), from a rolled copy
        of the bucket (a day before the bucket's, decided late, carries nothing)."""
        bucket = self._rolled(office_id, day, targets)
        return {lane: 0.0 for lane in SELECTED_LANES} if day < bucket.day else dict(bucket.balance)

    def _rolled(self, office_id: str, day: int, targets: Mapping[Action, float]) -> LaneBucket:
        """A copy of the office's bucket rolled to ``day``'s start (``targets``: that day's expected selections).

        The bucket starts full on the office's first day with history and is rolled over every later day with
        declarations (days on the prior cuts add and take nothing), so every worker and ``zeikan replay`` carry the
        same balance. A bucket already past ``day`` is returned as it is."""
        days = self._days.get(office_id, {})
        planned = {d: self._plan(office_id, d) for d in days if d < day}
        planned[day] = (dict(targets), {})
        kept = self._buckets.get(office_id)
        if kept is None:
            first = min(d for d, plan in planned.items() if plan is not None)
            bucket = LaneBucket(first, self._bursts(planned[first][0]))
        else:
            bucket = LaneBucket(kept.day, dict(kept.balance))
        if day < bucket.day:
            return bucket
        rolled = sorted(d for d in planned if bucket.day <= d)
        for d, following in zip(rolled, rolled[1:]):
            if planned[d] is not None:
                bucket.accrue(days[d], planned[d][1])
            if planned[following] is not None:
                bucket.start_day(following, self._bursts(planned[following][0]))
        bucket.day = day
        return bucket

    def _compute(self, office_id: str, day: int) -> Thresholds:
        cfg = self._config
        plan = self._plan(office_id, day)
        if plan is None:
            return Thresholds(cuts={lane: cfg.prior_thresholds[lane] for lane in SELECTED_LANES}, basis="prior")
        targets, shares = plan
        history = self._history(office_id, day)
        pool = [Keys(k, c) for stats in history for k, c in zip(stats.keys, stats.container_keys)]
        counts: dict[Action, int] = {}
        cumulative = 0.0
        for lane in SELECTED_LANES:
            cumulative += shares[lane]
            forced = sum(stats.forced_above[lane] for stats in history)
            counts[lane] = round(max(0.0, cumulative - forced / len(pool)) * len(pool))
        rule_cuts = {lane: top_asks_cut([k for stats in history for k in stats.asks[lane]],
                                          max(0.0, shares[lane] - cfg.random_rate.get(lane, 0.0)) * len(pool))
                     for lane in SELECTED_LANES}
        return Thresholds(cuts=ladder_cuts(pool, counts, self._container_lanes), basis="history", targets=targets,
                          shares=shares, carry=self._carry(office_id, day, targets), rule_cuts=rule_cuts,
                          container_lanes=self._container_lanes)

    def _forget_before(self, office_id: str, day: int) -> None:
        days = self._days.get(office_id, {})
        for old in [d for d in days if d < day]:
            del days[old]
        for old_key in [k for k in self._cache if k[0] == office_id and k[1] < day]:
            del self._cache[old_key]
