"""Liveness and readiness of one worker, as plain logic (the Faust wiring only feeds it).

Live: the process serves requests and has not marked itself failed.
Ready: partitions assigned (a rebalance completed and none is in progress), tables
recovered, every required model loaded, and every extra check the pipeline adds
(shared state caught up with the facts log, broker answering, waiting work moving).

>>> health = WorkerHealth(required_models=("tabular",))
>>> health.report().ready
False
>>> health.on_assigned(8); health.on_recovered(); health.on_model_loaded("tabular", "heuristic-1")
>>> health.report().ready
True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HealthReport:
    """Result of one probe: overall flags and each readiness check."""

    live: bool
    ready: bool
    checks: Mapping[str, bool]
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Body of the ``/healthz`` and ``/readyz`` responses."""
        return {"live": self.live, "ready": self.ready, "checks": dict(self.checks), **self.detail}


class WorkerHealth:
    """Lifecycle state of one worker; :meth:`report` turns it into a :class:`HealthReport`."""

    def __init__(self, required_models: tuple[str, ...] = ("tabular",), rebalance_limit_s: float = 180.0) -> None:
        self.required_models = required_models
        self.models: dict[str, str] = {}
        self.assigned_partitions: int | None = None
        self.rebalancing = False
        self.rebalance_limit_s = rebalance_limit_s
        """A rebalance that has not completed after this long makes the worker not live (its supervisor restarts it)."""
        self._rebalance_started = 0.0
        self.recovered = False
        self.failure: str | None = None
        self.extra_checks: Callable[[], Mapping[str, bool]] = dict
        """More readiness checks (name -> ok), asked on every report."""

    def on_rebalance_started(self) -> None:
        """A rebalance began: not ready until it completes and tables are recovered."""
        self.rebalancing = True
        self._rebalance_started = time.monotonic()
        self.recovered = False

    def on_assigned(self, partitions: int) -> None:
        """The consumer received its assignment (``partitions`` may be 0 with many workers)."""
        self.assigned_partitions = partitions
        self.rebalancing = False

    def on_recovered(self) -> None:
        """Table recovery finished for the current assignment."""
        self.recovered = True

    def on_model_loaded(self, role: str, version: str) -> None:
        """Model ``version`` serves ``role``."""
        self.models[role] = version

    def on_failed(self, reason: str) -> None:
        """Something fatal happened: the worker is no longer live (its supervisor restarts it)."""
        self.failure = reason

    def report(self) -> HealthReport:
        """Current liveness and readiness."""
        checks = {
            "partitions_assigned": self.assigned_partitions is not None and not self.rebalancing,
            "tables_recovered": self.recovered,
            "model_loaded": all(role in self.models for role in self.required_models),
            **self.extra_checks(),
        }
        live = self.failure is None and not (
            self.rebalancing and time.monotonic() - self._rebalance_started > self.rebalance_limit_s
        )
        detail: dict[str, Any] = {"models": dict(self.models), "assigned_partitions": self.assigned_partitions}
        if self.failure is not None:
            detail["failure"] = self.failure
        return HealthReport(live=live, ready=live and all(checks.values()), checks=checks, detail=detail)
