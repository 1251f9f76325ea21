"""Tunable parameters of the decision engine (capacity, random selection, deadlines)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from zeikan.features.definitions import ASOF_EPOCH_MS
from zeikan.streams.engine.lanes import SELECTED_LANES, Action, parse_action

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class EngineConfig:
    """Everything the engine needs besides the scorer and the rules.

    ``office_capacity[office][lane]`` is a daily count; offices without one use
    ``default_share[lane]`` (a share of the office's volume). The selected share
    of a lane tracks ``capacity / expected volume`` from the previous
    ``window_days`` event-time days; before any history the ``prior_thresholds``
    on the tabular score apply.
    """

    default_share: Mapping[Action, float] = field(
        default_factory=lambda: _frozen(
            {Action.PHYSICAL_EXAM: 0.02, Action.SCAN: 0.05, Action.DOCUMENT_CHECK: 0.08}
        )
    )
    office_capacity: Mapping[str, Mapping[Action, int]] = field(default_factory=lambda: _frozen({}))
    random_rate: Mapping[Action, float] = field(
        default_factory=lambda: _frozen(
            {Action.PHYSICAL_EXAM: 0.002, Action.SCAN: 0.005, Action.DOCUMENT_CHECK: 0.005}
        )
    )
    prior_thresholds: Mapping[Action, float] = field(
        default_factory=lambda: _frozen(
            {Action.PHYSICAL_EXAM: 0.9, Action.SCAN: 0.75, Action.DOCUMENT_CHECK: 0.6}
        )
    )
    window_days: int = 3
    min_history: int = 20
    selection_key: str = "zeikan-random-v1"
    scan_deadline_ms: int = 48 * HOUR_MS
    scan_lookback_ms: int = 7 * DAY_MS
    post_scan_exam_threshold: float = 0.7
    epoch_ms: int = ASOF_EPOCH_MS
    """Event-time epoch: declarations are decided on the shared state as of their epoch's start."""
    frontier_max_jump: int = 24
    """Idle partitions follow the most advanced one, unless it alone is this many epochs ahead (an outlier)."""
    random_catch_up: float = 3.0
    """While an office-lane's random count is behind its minimum, its random rate is multiplied by this."""
    container_lanes: tuple[Action, ...] = (Action.PHYSICAL_EXAM, Action.SCAN)
    """Lanes that rank declarations with containers before loose cargo (``capacity.container_key``): only a
    container hides concealment, and these lanes are the ones that find it."""
    image_review_action: Action = Action.SCAN
    """POST_SCAN lane of a scan that got no image score (model unavailable, image refused or unreadable):
    it waits in the scan lane for an analyst to read the image. Never RELEASE unless configured so."""

    def __post_init__(self) -> None:
        for name, table in (("default_share", self.default_share), ("random_rate", self.random_rate)):
            for lane, value in table.items():
                if lane not in SELECTED_LANES or not 0.0 <= value <= 1.0:
                    raise ValueError(f"{name}[{lane}] must be a share in [0, 1] of a selecting lane")
        if sum(self.default_share.values()) > 1.0 or sum(self.random_rate.values()) > 1.0:
            raise ValueError("lane shares and random rates must each add up to at most 1")
        if not set(self.container_lanes) <= set(SELECTED_LANES):
            raise ValueError("container_lanes must be selecting lanes")
        if self.window_days < 1:
            raise ValueError("window_days must be at least 1")
        if self.epoch_ms < 1 or 86_400_000 % self.epoch_ms:
            raise ValueError("epoch_ms must divide a day")

    def capacity_share(self, office_id: str, lane: Action, expected_volume: float) -> float:
        """Target share of ``lane`` at ``office_id`` for a day of ``expected_volume`` declarations."""
        counts = self.office_capacity.get(office_id)
        if counts is None or lane not in counts:
            return self.default_share.get(lane, 0.0)
        if expected_volume <= 0:
            return 0.0
        return min(1.0, counts[lane] / expected_volume)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> "EngineConfig":
        """Build from a YAML/JSON mapping with lane names as strings (unknown keys rejected)."""
        allowed = set(cls.__dataclass_fields__)
        unknown = set(raw) - allowed
        if unknown:
            raise ValueError(f"unknown engine settings {sorted(unknown)}: allowed are {sorted(allowed)}")
        values: dict[str, Any] = dict(raw)
        for name in ("default_share", "random_rate", "prior_thresholds"):
            if name in values:
                values[name] = _frozen({parse_action(k): float(v) for k, v in values[name].items()})
        if "container_lanes" in values:
            values["container_lanes"] = tuple(parse_action(lane) for lane in values["container_lanes"])
        if "image_review_action" in values:
            values["image_review_action"] = parse_action(values["image_review_action"])
        if "office_capacity" in values:
            values["office_capacity"] = _frozen(
                {
                    str(office): _frozen({parse_action(k): int(v) for k, v in lanes.items()})
                    for office, lanes in values["office_capacity"].items()
                }
            )
        return cls(**values)
