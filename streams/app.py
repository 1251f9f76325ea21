"""The Faust app factory: one :class:`Pipeline` per worker process, built from settings.

Topics: the contract topics are read and written as raw bytes (Avro via
``zeikan.schemas.codec``); two internal JSON topics carry the join
(``<app>-container-events`` keyed by container, ``<app>-declaration-joins`` keyed by
declaration). Tables live in ``memory://``: their state is rebuilt from the
changelog topics on every start, so a restarted worker can never trip over the
RocksDB "persisted offset higher than highwater" check (there is no persisted
local offset), and recovery of the small join/feedback tables takes seconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from faust.types import TableT, TopicT

from zeikan.models.base import ImageScorer
from zeikan.schemas.contract import DEAD_LETTERS, DECISIONS, DECLARATIONS, INSPECTION_RESULTS, SCAN_OVERDUE, SCANS
from zeikan.streams.board import VerdictBoard
from zeikan.streams.engine.capacity import Thresholds
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.core import DecisionEngine
from zeikan.streams.engine.rules import RuleFile
from zeikan.streams.follower import HistoryFollower
from zeikan.streams.hooks import PipelineHooks
from zeikan.streams.kafka_config import KafkaSettings
from zeikan.streams.scoring import build_feature_state, build_image_scorer, build_shadow_scorers, build_tabular_scorer
from zeikan.streams.settings import WorkerSettings
from zeikan.streams.transport import install as install_transport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Topics:
    """Every topic the agents read or write."""

    declarations: TopicT
    scans: TopicT
    inspections: TopicT
    decisions: TopicT
    dead_letters: TopicT
    overdue: TopicT
    container_events: TopicT
    declaration_joins: TopicT


@dataclass(frozen=True)
class Tables:
    """Faust tables (changelogged, ``memory://``)."""

    containers: TableT
    joins: TableT
    feedback_seen: TableT


@dataclass
class Pipeline:
    """Everything one worker's agents share."""

    app: faust.App
    settings: WorkerSettings
    kafka: KafkaSettings
    config: EngineConfig
    rules: RuleFile
    engine: DecisionEngine
    board: VerdictBoard
    follower: HistoryFollower
    hooks: PipelineHooks
    image_scorer: ImageScorer
    topics: Topics
    tables: Tables


def _raw_topic(app: faust.App, name: str) -> TopicT:
    return app.topic(name, key_serializer="raw", value_serializer="raw")


def _internal_topic(app: faust.App, name: str, partitions: int) -> TopicT:
    return app.topic(
        f"{app.conf.id}-{name}", key_serializer="raw",
        value_serializer="json", partitions=partitions, internal=True,
    )


def _faust_app(settings: WorkerSettings, kafka: KafkaSettings) -> faust.App:
    Path(settings.workdir).mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{host}" for host in kafka.bootstrap.split(",")],
        store="memory://",
        datadir=settings.workdir,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        web_enabled=True,
        topic_partitions=kafka.partitions,
        topic_replication_factor=kafka.replication,
        table_standby_replicas=0,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_s,
        broker_commit_interval=settings.commit_interval_s,
        broker_max_poll_interval=max(30.0, settings.decision_wait_s * 2),
        consumer_auto_offset_reset="earliest",
        stream_recovery_delay=0.2,
        producer_linger_ms=1,
    )
    install_transport(app, settings.agent_fetch_wait_ms)
    return app


def create_pipeline(
    settings: WorkerSettings, kafka: KafkaSettings, hooks: PipelineHooks | None = None
) -> Pipeline:
    """Build the app, the engine and register every agent, timer and page (not started)."""
    from zeikan.streams.agents import decide, feedback, join, scans, state

    hooks = hooks or PipelineHooks()
    app = _faust_app(settings, kafka)
    config = settings.load_engine_config()
    rules = RuleFile(Path(settings.rules_path), settings.rules_check_s)
    scorer = build_tabular_scorer(settings.registry, settings.model_poll_s, hooks)
    shadow = build_shadow_scorers(settings.registry, settings.shadow_model, hooks)

    def report_capacity(office: str, thresholds: Thresholds) -> None:
        for lane, per_day in thresholds.targets.items():
            hooks.on_capacity(office, lane.name, per_day)

    engine = DecisionEngine(build_feature_state(), scorer, lambda: rules.book, config, shadow, report_capacity)
    board = VerdictBoard(settings.board_size)
    last_rules = [rules.book.version, rules.last_error]

    def check_rules() -> None:
        rules.refresh()
        if [rules.book.version, rules.last_error] != last_rules:
            last_rules[:] = [rules.book.version, rules.last_error]
            hooks.on_rules_reloaded(rules.book.version, rules.last_error is None)

    follower = HistoryFollower(kafka.bootstrap, engine, board, hooks, settings.fetch_wait_ms, check_rules)
    n = kafka.partitions
    topics = Topics(
        declarations=_raw_topic(app, DECLARATIONS.name),
        scans=_raw_topic(app, SCANS.name),
        inspections=_raw_topic(app, INSPECTION_RESULTS.name),
        decisions=_raw_topic(app, DECISIONS.name),
        dead_letters=_raw_topic(app, DEAD_LETTERS.name),
        overdue=_raw_topic(app, SCAN_OVERDUE.name),
        container_events=_internal_topic(app, "container-events", n),
        declaration_joins=_internal_topic(app, "declaration-joins", n),
    )
    tables = Tables(
        containers=app.Table("join-containers", default=None, partitions=n, key_type=str),
        joins=app.Table("join-declarations", default=None, partitions=n, key_type=str),
        feedback_seen=app.Table("feedback-seen", default=None, partitions=n, key_type=str),
    )
    image_scorer = build_image_scorer(hooks)
    hooks.on_model_loaded("tabular", scorer.version)
    hooks.on_model_loaded("image", image_scorer.version)
    pipeline = Pipeline(app, settings, kafka, config, rules, engine, board, follower, hooks, image_scorer, topics, tables)

    @app.task
    async def follow_history() -> None:
        try:
            await follower.run()
        except Exception as exc:  # noqa: BLE001 - the worker cannot decide without its history
            log.exception("history follower failed")
            await app.crash(exc)

    for module in (decide, scans, join, feedback, state):
        module.register(pipeline)
    return pipeline


def feature_digest(engine: DecisionEngine) -> str:
    """sha256 of the entity state (the feature store), to compare workers and runs."""
    store: Any = getattr(engine.feature_state, "store", {})
    blob = json.dumps(store, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
