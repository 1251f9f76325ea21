"""The Faust app factory: one :class:`Pipeline` per worker process, built from settings.

Topics: the contract topics are read and written as raw bytes (Avro via
``zeikan.schemas.codec``); ``<app>-facts`` (one partition) is the facts log every
worker folds into its shared state (:mod:`zeikan.streams.facts_log`); two internal
JSON topics carry the join (``<app>-container-events`` keyed by container,
``<app>-declaration-joins`` keyed by declaration). The join tables live in local
RocksDB stores (a restart reads only their changelogs' tails; stores that cannot be
trusted are removed first, :mod:`zeikan.streams.table_stores`); the shared state is
restored from its newest snapshot plus the facts log's tail.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import faust
from faust.types import TableT, TopicT

from zeikan.models.base import ImageScorer
from zeikan.schemas.contract import DEAD_LETTERS, DECISIONS, DECLARATIONS, INSPECTION_RESULTS, SCAN_OVERDUE, SCANS
from zeikan.streams.agents.common import BatchRunner
from zeikan.streams.agents.decide import Decider
from zeikan.streams.agents.learn import LiveLearner
from zeikan.streams.agents.markers import SOURCE_TOPICS, Markers
from zeikan.streams.engine.capacity import Thresholds
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.core import DecisionEngine
from zeikan.streams.engine.facts import Fact, source_name
from zeikan.streams.engine.rules import RuleFile
from zeikan.streams.engine.shared_state import SharedState
from zeikan.streams.facts_log import FactsFollower
from zeikan.streams.observability.gc_pauses import refreeze
from zeikan.streams.observability.hooks import PipelineHooks
from zeikan.streams.kafka.kafka_config import KafkaSettings
from zeikan.streams.serving.promoted import build_learning
from zeikan.streams.serving.scoring import (
    build_image_scorer, build_seizure_scorer, build_shadow_scorers, build_tabular_scorer,
)
from zeikan.streams.snapshots import SnapshotStore
from zeikan.streams.settings import LearningSettings, WorkerSettings
from zeikan.streams.kafka.transport import install as install_transport

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
    facts: str


@dataclass(frozen=True)
class Tables:
    """Faust tables (changelogged, in local RocksDB stores: see :mod:`zeikan.streams.table_stores`)."""

    containers: TableT
    joins: TableT


@dataclass
class Pipeline:
    """Everything one worker's agents share."""

    app: faust.App
    settings: WorkerSettings
    kafka: KafkaSettings
    config: EngineConfig
    rules: RuleFile
    state: SharedState
    engine: DecisionEngine
    follower: FactsFollower
    runner: BatchRunner
    hooks: PipelineHooks
    image_scorer: ImageScorer
    topics: Topics
    tables: Tables
    decider: Decider = field(init=False)
    markers: Markers = field(init=False)
    learner: LiveLearner | None = field(init=False, default=None)
    """Continuous learning (None when off): its book gates the decider."""

    def __post_init__(self) -> None:
        self.decider = Decider(self)
        self.markers = Markers(self)


def facts_topic(app_id: str) -> str:
    """Name of the facts log of app ``app_id``."""
    return f"{app_id}-facts"


def source_partitions(partitions: int) -> list[str]:
    """Every source of the facts log: each partition of declarations and inspection-results."""
    return [source_name(topic, p) for topic in SOURCE_TOPICS for p in range(partitions)]


def _raw_topic(app: faust.App, name: str) -> TopicT:
    return app.topic(name, key_serializer="raw", value_serializer="raw")


def _internal_topic(app: faust.App, name: str, partitions: int) -> TopicT:
    return app.topic(
        f"{app.conf.id}-{name}", key_serializer="raw",
        value_serializer="json", partitions=partitions, internal=True,
    )


class _App(faust.App):
    """Faust's App, plus tasks that start with it (:meth:`early_task`) instead of after table recovery."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._early_tasks: list[Callable[[], Awaitable[None]]] = []

    def early_task(self, fun: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """Start ``fun()`` when the app first starts, while the worker joins its group and recovers its tables."""
        self._early_tasks.append(fun)
        return fun

    async def on_first_start(self) -> None:
        await super().on_first_start()
        for fun in self._early_tasks:
            self.add_future(fun())


def _faust_app(settings: WorkerSettings, kafka: KafkaSettings) -> _App:
    Path(settings.workdir).mkdir(parents=True, exist_ok=True)
    app = _App(
        settings.app_id,
        broker=[f"kafka://{host}" for host in kafka.bootstrap.split(",")],
        store="rocksdb://",  # the join tables: a restart reads only the changelogs' tails (rocksdict driver)
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
        # Faust's consumer thread stops polling while the stream buffers are full (a backlog):
        # a short limit would evict a busy, healthy worker from the group (failover uses the session timeout)
        broker_max_poll_interval=settings.max_poll_interval_s,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
        stream_recovery_delay=0.2,
        producer_linger_ms=1,
        # few, large record batches: Tansu's fetch cost grows with the number of batches a partition holds
        producer_max_batch_size=256 * 1024,
        producer_max_request_size=2 * 1024 * 1024,
    )
    install_transport(app, settings.agent_fetch_wait_ms)
    return app


def create_pipeline(
    settings: WorkerSettings, kafka: KafkaSettings, hooks: PipelineHooks | None = None
) -> Pipeline:
    """Build the app, the shared state and register every agent, timer and page (not started)."""
    from zeikan.streams.agents import decide, feedback, join, learn, markers, scans
    from zeikan.streams.observability import state_page

    hooks = hooks or PipelineHooks()
    app = _faust_app(settings, kafka)
    config = settings.load_engine_config()
    rules = RuleFile(Path(settings.rules_path), settings.rules_check_s)
    learning = LearningSettings.from_env()
    if learning.enabled:
        scorer, learner = build_learning(settings.registry, learning, hooks)
    else:
        scorer = build_tabular_scorer(settings.registry, settings.model_poll_s, hooks)
    shadow = build_shadow_scorers(settings.registry, settings.shadow_model, hooks)

    def report_capacity(office: str, thresholds: Thresholds) -> None:
        for lane, per_day in thresholds.targets.items():
            hooks.on_capacity(office, lane.name, per_day)

    shared = SharedState(config, source_partitions(kafka.partitions), report_capacity)
    engine = DecisionEngine(shared, scorer, lambda: rules.book, shadow, build_seizure_scorer(settings.registry))
    runner = BatchRunner(app, hooks, facts_topic(settings.app_id), settings.limits())
    snapshots = SnapshotStore(settings.snapshot_url(), settings.snapshot_keep) if settings.snapshots else None
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
        facts=facts_topic(settings.app_id),
    )
    pipeline: Pipeline

    def on_fold(facts: list[Fact]) -> None:
        owned = {source_name(tp.topic, tp.partition) for tp in app.consumer.assignment()}
        for fact in facts:
            if fact.kind == "inspection" and fact.source in owned and fact.record is not None:
                hooks.on_feedback(fact.record)
        if pipeline.learner is not None:
            pipeline.learner.on_fold(facts)

    follower = FactsFollower(
        kafka.bootstrap, topics.facts, shared, snapshots, settings.fetch_wait_ms,
        settings.snapshot_every, settings.snapshot_min_s, on_fold, runner.own_facts.claim,
    )
    tables = Tables(
        containers=app.Table("join-containers", default=None, partitions=n, key_type=str),
        joins=app.Table("join-declarations", default=None, partitions=n, key_type=str),
    )
    image_scorer = build_image_scorer(hooks)
    hooks.on_model_loaded("tabular", scorer.version)
    hooks.on_model_loaded("image", image_scorer.version)
    pipeline = Pipeline(app, settings, kafka, config, rules, shared, engine, follower, runner, hooks, image_scorer, topics, tables)
    if learning.enabled:
        pipeline.learner = LiveLearner(pipeline, learner, scorer)
    last_rules = [rules.book.version, rules.last_error]

    @app.timer(settings.rules_check_s, name="zeikan.rules")
    async def check_rules() -> None:
        rules.refresh()
        if [rules.book.version, rules.last_error] != last_rules:
            last_rules[:] = [rules.book.version, rules.last_error]
            hooks.on_rules_reloaded(rules.book.version, rules.last_error is None)

    restored = asyncio.Event()

    @app.early_task
    async def restore_snapshot() -> None:
        """Restore the snapshot while Faust joins the group (a restarted worker waits there for its old
        session to expire) instead of after it. The log is followed only once Faust is ready: a follower
        started this early held the first seconds of decisions back (p99 2.5 s against 0.6 s at 1,000
        declarations/s, ``bench/pipeline.py``'s latency part, round 6; cause not found)."""
        await asyncio.to_thread(follower.restore)
        restored.set()

    @app.task
    async def follow_facts() -> None:
        await restored.wait()
        await follower.run()

    @app.task
    async def freeze_heap() -> None:
        """Once caught up, and every ``gc_refreeze_s``: the objects alive leave the collector's walks (see gc_pauses)."""
        await follower.caught_up.wait()
        while True:
            frozen = refreeze()
            hooks.on_heap_frozen(frozen)
            log.info("heap refrozen: %d objects out of the collector's walks", frozen)
            await asyncio.sleep(settings.gc_refreeze_s)

    async def on_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        pipeline.decider.revoke(set(revoked))
        runner.forget(revoked)
        pipeline.markers.forget(revoked)  # a marker queued for them may not have been sent: the log's marks say

    app.on_partitions_revoked.connect(on_revoked, weak=False)
    for module in (decide, feedback, markers, scans, join, learn, state_page):
        module.register(pipeline)
    return pipeline

