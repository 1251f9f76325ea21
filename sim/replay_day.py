"""zeikan's decisions of one event-time window of a history directory, through ``zeikan.streams.engine.replay`` only.

The closed loop calls :func:`decide_window` once per simulated day. It relies on
one public function of the replay module: ``replay(directory, rules, config,
registry)``, which decides the whole directory in event-time order (decisions
depend only on the events before them, so a window's decisions are final once
every event before the window's end is in the directory).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.rules import RuleBook
from zeikan.streams.replay import replay

DayDecider = Callable[[Path, int, int], list[dict[str, Any]]]
"""``decide(directory, start_ms, end_ms)`` -> the Decision records whose event time is in [start, end)."""


def decide_window(directory: Path, start_ms: int, end_ms: int, rules: RuleBook, config: EngineConfig,
                  registry: str) -> list[dict[str, Any]]:
    """Decisions (both stages) of ``directory`` with ``start_ms <= event_time < end_ms``, in replay order."""
    decisions, _history = replay(directory, rules, config, registry)
    return [d for d in decisions if start_ms <= int(d["event_time"]) < end_ms]


def replay_decider(rules: RuleBook, config: EngineConfig, registry: str) -> DayDecider:
    """A :data:`DayDecider` serving ``registry``'s live model with ``rules`` and ``config``."""
    return lambda directory, start, end: decide_window(directory, start, end, rules, config, registry)
