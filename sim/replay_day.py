"""zeikan's decisions of one event-time window of a history directory, through ``zeikan.streams.replay`` only.

The closed loop calls its :data:`DayDecider` once per simulated day, with the directory
holding every event before the day's end. Decisions depend only on the events before
them, and the loop adds events only after the day it has decided, so a day's decisions
are final once the day is decided: :func:`replay_decider` keeps one
:class:`~zeikan.streams.replay.GrowingReplay` per directory and feeds it each day's new
events (the same decisions as a full ``replay(directory, ...)`` each day, without
deciding the earlier days again).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.rules import RuleBook
from zeikan.streams.replay import GrowingReplay

DayDecider = Callable[[Path, int, int], list[dict[str, Any]]]
"""``decide(directory, start_ms, end_ms)`` -> the Decision records whose event time is in [start, end)."""


def replay_decider(rules: RuleBook, config: EngineConfig, registry: str) -> DayDecider:
    """A :data:`DayDecider` serving ``registry``'s live model with ``rules`` and ``config`` (days in order)."""
    sessions: dict[Path, GrowingReplay] = {}

    def decide(directory: Path, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        session = sessions.setdefault(directory, GrowingReplay(directory, rules, config, registry))
        return [d for d in session.until(end_ms) if start_ms <= int(d["event_time"]) < end_ms]

    return decide
