"""Wiring of metrics and health into a Faust worker: web routes, signals, the lag timer.

The pipeline's app factory calls, once per worker process::

    hooks, health = create_observability(ObservabilitySettings.from_env(), metadata_for=...)
    app = ...  # agents get ``hooks``
    install_web_routes(app, hooks, health)

and the worker's web server (``--web-port``) then serves ``/metrics`` (this worker's own
registry), ``/healthz`` (liveness) and ``/readyz`` (readiness; 503 until ready).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import faust
from aiohttp.web import Response
from aiokafka.errors import KafkaError
from faust.exceptions import ConsumerNotStarted
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from zeikan.models.drift import DriftMonitor
from zeikan.env_settings import settings_from_env
from zeikan.streams.errors import InvalidSetting
from zeikan.streams.observability.health import WorkerHealth
from zeikan.streams.observability.metrics import PrometheusHooks, ZeikanMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ObservabilitySettings:
    """Observability settings of one worker (environment variables in ``ENV``)."""

    lag_interval_s: float = 5.0
    """Seconds between consumer-lag samples (``ZEIKAN_LAG_INTERVAL_S``)."""
    drift_window: int = 5000
    """Live values per feature in the drift histograms (``ZEIKAN_DRIFT_WINDOW``)."""
    required_models: tuple[str, ...] = ("tabular",)
    """Model roles that must be loaded before the worker is ready (``ZEIKAN_REQUIRED_MODELS``, comma list)."""

    ENV = {
        "lag_interval_s": "ZEIKAN_LAG_INTERVAL_S",
        "drift_window": "ZEIKAN_DRIFT_WINDOW",
        "required_models": "ZEIKAN_REQUIRED_MODELS",
    }

    def __post_init__(self) -> None:
        if not self.lag_interval_s > 0:
            raise InvalidSetting("lag_interval_s", self.lag_interval_s, "a number of seconds > 0")
        if self.drift_window < 1:
            raise InvalidSetting("drift_window", self.drift_window, "an integer >= 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ObservabilitySettings:
        """Read the settings from ``env`` (default ``os.environ``); unset ones keep defaults."""
        return settings_from_env(cls, env, {})


def create_observability(
    settings: ObservabilitySettings | None = None,
    model_metadata: Mapping | None = None,
    metadata_for: Callable[[str], Mapping | None] | None = None,
) -> tuple[PrometheusHooks, WorkerHealth]:
    """A fresh registry, its metrics, the hooks and the health state of one worker process.

    Without ``settings``, they are read from the environment. Feature drift compares
    live feature rows with the training bins (``feature_bins``) of a model's registry
    metadata: ``model_metadata`` is a fixed one; ``metadata_for`` (tabular model
    version -> its metadata, None when unknown) follows the serving model, read each
    time the pipeline announces one (``on_model_loaded("tabular", version)``: on
    start and on every hot swap). Without either, no drift is computed.
    """
    settings = settings or ObservabilitySettings.from_env()
    health = WorkerHealth(required_models=settings.required_models)
    window = settings.drift_window

    def drift_for(metadata: Mapping | None) -> DriftMonitor | None:
        return DriftMonitor.from_metadata(metadata, window) if metadata else None

    source = (lambda version: drift_for(metadata_for(version))) if metadata_for is not None else None
    metrics = ZeikanMetrics.create(CollectorRegistry(auto_describe=True))
    return PrometheusHooks(metrics, drift=drift_for(model_metadata), health=health, drift_source=source), health


def partition_lag(highwater: int | None, committed: int | None, position: int | None) -> int | None:
    """Messages behind the end of a partition: highwater minus committed (else fetch position).

    >>> partition_lag(100, 90, 95), partition_lag(100, None, 95), partition_lag(None, 3, 4)
    (10, 5, None)
    """
    if highwater is None:
        return None
    done = committed if committed is not None else position
    return None if done is None else max(0, highwater - done)


def lag_by_partition(
    assignment: Iterable[TP],
    highwaters: Mapping[TP, int],
    committed: Mapping[TP, int | None],
    positions: Mapping[TP, int | None],
) -> dict[tuple[str, int], int]:
    """Lag per (topic, partition) of an assignment; partitions without offsets are left out."""
    lag: dict[tuple[str, int], int] = {}
    for tp in assignment:
        value = partition_lag(highwaters.get(tp), committed.get(tp), positions.get(tp))
        if value is not None:
            lag[(tp.topic, tp.partition)] = value
    return lag


async def sample_lag(consumer: Any) -> dict[tuple[str, int], int]:
    """Read lag from a running Faust consumer (its assignment, highwaters, committed offsets).

    The highwaters are those its own fetch responses carried (true on Tansu, whose ListOffsets
    is not). Asking the broker instead cost a new client and a fetch of every assigned
    partition's last record every 5 s, and Tansu's cost of a fetch grows with a partition's
    batches (:mod:`~zeikan.streams.kafka.fetch_wait`). A partition whose fetch is paused
    shows its lag as of its last fetch.
    """
    assignment = consumer.assignment()
    if not assignment:
        return {}
    highwaters = {tp: end for tp in assignment if (end := _fetched_highwater(consumer, tp)) is not None}
    committed = {tp: consumer._committed_offset.get(tp) for tp in assignment}
    unknown = [tp for tp in assignment if committed[tp] is None]
    positions = dict(zip(unknown, await asyncio.gather(*(consumer.position(tp) for tp in unknown)), strict=True))
    return lag_by_partition(assignment, highwaters, committed, positions)


def _fetched_highwater(consumer: Any, tp: TP) -> int | None:
    try:
        return consumer.highwater(tp)
    except (KafkaError, ConsumerNotStarted):  # not assigned any more, or stopping
        return None


def install_web_routes(
    app: faust.App,
    hooks: PrometheusHooks,
    health: WorkerHealth,
    settings: ObservabilitySettings | None = None,
) -> None:
    """Serve ``/metrics``, ``/healthz``, ``/readyz``; feed health from rebalance signals; sample lag.

    Call before the worker starts (timers and pages are registered at definition).
    Without ``settings``, they are read from the environment.
    """
    settings = settings or ObservabilitySettings.from_env()
    registry = hooks.metrics.registry

    @app.page("/metrics")
    async def metrics_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        hooks.on_ready(health.report().ready)
        # aiohttp refuses a charset inside content_type=: the exposition type goes in the header
        return Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/healthz")
    async def healthz_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        if app.crashed and health.failure is None:
            health.on_failed(f"app crashed: {app.crash_reason!r}")
        report = health.report()
        return web.json(report.to_json(), status=200 if report.live else 503)

    @app.page("/readyz")
    async def readyz_page(web: faust.web.View, request: faust.web.Request) -> faust.web.Response:
        report = health.report()
        return web.json(report.to_json(), status=200 if report.ready else 503)

    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        health.on_rebalance_started()

    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        health.on_assigned(len(assigned))

    async def on_complete(sender: Any, **kwargs: Any) -> None:
        health.on_recovered()

    app.on_partitions_revoked.connect(on_revoked, weak=False)
    app.on_partitions_assigned.connect(on_assigned, weak=False)
    app.on_rebalance_complete.connect(on_complete, weak=False)

    @app.timer(settings.lag_interval_s, name="zeikan.observability.lag")
    async def sample_lag_timer() -> None:
        try:
            if not app.rebalancing:
                hooks.on_lag(await sample_lag(app.consumer))
        except Exception as exc:  # noqa: BLE001 - the broker may be away: lag is unknown, the worker goes on
            log.warning("lag not sampled: %s: %s", type(exc).__name__, exc)
        hooks.on_ready(health.report().ready)
