"""Start one pipeline worker process: provision topics, build the pipeline and observability, check the table stores, run Faust."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from faust.worker import Worker

from zeikan.schemas.contract import TOPICS
from zeikan.streams.app import Pipeline, create_pipeline
from zeikan.streams.kafka.kafka_config import KafkaSettings
from zeikan.streams.kafka.kafka_io import check_reachable, ensure_topics
from zeikan.streams.settings import WorkerSettings
from zeikan.streams.table_stores import repair_before_start


def run_worker(settings: WorkerSettings, kafka: KafkaSettings, loglevel: str = "WARNING") -> None:
    """Run a worker until it is stopped (SIGTERM/SIGINT stop it cleanly)."""
    from zeikan.streams.observability.gc_pauses import watch_pauses
    from zeikan.streams.observability.wiring import ObservabilitySettings, create_observability, install_web_routes
    from zeikan.streams.serving.scoring import registry_metadata

    check_reachable(kafka.bootstrap)
    ensure_topics(kafka.bootstrap, TOPICS, kafka.partitions, kafka.replication)
    # feature drift follows the serving model's training bins (on start and on every hot swap)
    hooks, health = create_observability(
        ObservabilitySettings.from_env(), metadata_for=partial(registry_metadata, settings.registry)
    )
    watch_pauses(hooks.metrics.gc_pause)
    pipeline = create_pipeline(settings, kafka, hooks)
    ensure_topics(kafka.bootstrap, [pipeline.topics.facts], 1, kafka.replication)
    tables = [pipeline.tables.containers.name, pipeline.tables.joins.name]
    repair_before_start(Path(pipeline.app.conf.tabledir), settings.app_id, tables, kafka.bootstrap)
    health.extra_checks = partial(readiness_checks, pipeline)
    install_web_routes(pipeline.app, hooks, health)
    logging.getLogger("zeikan").setLevel(loglevel.upper())
    worker = Worker(pipeline.app, loglevel=loglevel.upper(), quiet=True, redirect_stdouts=False)
    # Faust's progress spinner sets the root logger to DEBUG, so every library debug call built a record
    worker.spinner = None
    worker.execute_from_commandline()


def readiness_checks(pipeline: Pipeline) -> dict[str, bool]:
    """The pipeline's own readiness checks: shared state caught up, broker answering, waiting work moving."""
    settings, follower = pipeline.settings, pipeline.follower
    return {
        "state_caught_up": follower.caught_up.is_set(),
        "broker_reachable": follower.reachable(settings.broker_timeout_s),
        "making_progress": not pipeline.decider.stalled(settings.stall_s),
    }
