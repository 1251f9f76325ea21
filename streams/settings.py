"""Settings of a pipeline worker (``zeikan worker``), read once at the edge: flags, then env, then defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from zeikan.models.continuous import ContinuousSettings
from zeikan.models.registry import DEFAULT_REGISTRY
from zeikan.models.training import TrainSettings
from zeikan.schemas.limits import Limits
from zeikan.streams.engine.config import HOUR_MS, EngineConfig
from zeikan.streams.engine.promotions import Schedule
from zeikan.env_settings import settings_from_env
from zeikan.streams.errors import EngineConfigError, InvalidSetting
from zeikan.streams.kafka.kafka_config import KafkaSettings

DEFAULT_RULES = Path(__file__).resolve().parent / "default_rules.yaml"
"""Officer rules shipped with zeikan (used when ``ZEIKAN_RULES`` is not set)."""


@dataclass(frozen=True)
class WorkerSettings:
    """One worker's settings; each field has an environment variable in ``ENV``."""

    app_id: str = "zeikan"
    """Faust app id = consumer group and prefix of internal topics (``ZEIKAN_APP_ID``)."""
    web_host: str = "127.0.0.1"
    """Host of the worker's web server (``ZEIKAN_WEB_HOST``)."""
    web_port: int = 6066
    """Port of the worker's web server: /metrics, /healthz, /zeikan/state (``ZEIKAN_WEB_PORT``)."""
    workdir: str = "var/worker"
    """Directory for the worker's local files (``ZEIKAN_WORKDIR``)."""
    rules_path: str = str(DEFAULT_RULES)
    """Officer rule file, hot-reloaded (``ZEIKAN_RULES``)."""
    engine_config: str = ""
    """Optional YAML of :class:`EngineConfig` fields (``ZEIKAN_ENGINE_CONFIG``)."""
    batch_size: int = 500
    """Most records an agent processes per batch (``ZEIKAN_BATCH_SIZE``)."""
    batch_within_s: float = 0.02
    """Longest an agent waits to fill a batch (``ZEIKAN_BATCH_WITHIN_S``)."""
    waiting_limit: int = 5000
    """Declarations waiting in one partition's queue at which its fetch is paused; it resumes at
    half (``ZEIKAN_WAITING_LIMIT``, see :mod:`~zeikan.streams.agents.fetch_gate`)."""
    session_timeout_s: float = 6.0
    """Consumer-group session timeout: failover time after a crash (``ZEIKAN_SESSION_TIMEOUT_S``)."""
    heartbeat_s: float = 1.0
    """Consumer-group heartbeat interval (``ZEIKAN_HEARTBEAT_S``)."""
    commit_interval_s: float = 1.0
    """How often processed offsets are committed (``ZEIKAN_COMMIT_INTERVAL_S``)."""
    fetch_wait_ms: int = 5
    """Longest the history follower's fetch waits at the end of the log (``ZEIKAN_FETCH_WAIT_MS``)."""
    agent_fetch_wait_ms: int = 10
    """Longest the agents' (group consumer's) fetch waits at the end of the log; Faust's own is 1500
    and Tansu holds a fetch that long even when records arrive (``ZEIKAN_AGENT_FETCH_WAIT_MS``)."""
    marker_interval_s: float = 0.05
    """Seconds between checks that close idle partitions' epochs (``ZEIKAN_MARKER_INTERVAL_S``)."""
    snapshot_store: str = ""
    """Where shared-state snapshots go: a folder or any fsspec URL such as ``s3://bucket/zeikan``;
    empty = ``<workdir>/snapshots``; ``none`` = no snapshots (``ZEIKAN_SNAPSHOT_STORE``)."""
    snapshot_every: int = 50_000
    """Facts folded between two snapshots (``ZEIKAN_SNAPSHOT_EVERY``)."""
    snapshot_min_s: float = 10.0
    """Least seconds between two snapshots (``ZEIKAN_SNAPSHOT_MIN_S``)."""
    snapshot_keep: int = 3
    """Snapshots kept, newest first (``ZEIKAN_SNAPSHOT_KEEP``)."""
    gc_refreeze_s: float = 600.0
    """Seconds between two refreezes of the heap once caught up, each one full collection; between them the collector
    walks only the objects created since (``ZEIKAN_GC_REFREEZE_S``, see :mod:`~zeikan.streams.observability.gc_pauses`)."""
    stall_s: float = 15.0
    """Not ready when waiting work did not move for this long (``ZEIKAN_STALL_S``)."""
    max_poll_interval_s: float = 600.0
    """Longest the group consumer may go without polling before the group evicts it: a worker
    draining a backlog with full buffers polls rarely (``ZEIKAN_MAX_POLL_INTERVAL_S``)."""
    broker_timeout_s: float = 3.0
    """Not ready when the broker has not answered a fetch for this long (``ZEIKAN_BROKER_TIMEOUT_S``)."""
    overdue_interval_s: float = 2.0
    """Seconds between scan-deadline checks (``ZEIKAN_OVERDUE_INTERVAL_S``)."""
    rules_check_s: float = 1.0
    """Seconds between rule-file change checks (``ZEIKAN_RULES_CHECK_S``)."""
    registry: str = DEFAULT_REGISTRY
    """Model registry URL whose live model scores, hot-reloaded (``ZEIKAN_REGISTRY``)."""
    model_poll_s: float = 10.0
    """Seconds between checks for a newly promoted model (``ZEIKAN_MODEL_POLL_S``)."""
    shadow_model: str = ""
    """Candidate model version(s), comma-separated, scored beside the live one and never acted on (``ZEIKAN_SHADOW_MODEL``)."""

    ENV = {
        "app_id": "ZEIKAN_APP_ID",
        "web_host": "ZEIKAN_WEB_HOST",
        "web_port": "ZEIKAN_WEB_PORT",
        "workdir": "ZEIKAN_WORKDIR",
        "rules_path": "ZEIKAN_RULES",
        "engine_config": "ZEIKAN_ENGINE_CONFIG",
        "batch_size": "ZEIKAN_BATCH_SIZE",
        "batch_within_s": "ZEIKAN_BATCH_WITHIN_S",
        "waiting_limit": "ZEIKAN_WAITING_LIMIT",
        "session_timeout_s": "ZEIKAN_SESSION_TIMEOUT_S",
        "heartbeat_s": "ZEIKAN_HEARTBEAT_S",
        "commit_interval_s": "ZEIKAN_COMMIT_INTERVAL_S",
        "fetch_wait_ms": "ZEIKAN_FETCH_WAIT_MS",
        "agent_fetch_wait_ms": "ZEIKAN_AGENT_FETCH_WAIT_MS",
        "marker_interval_s": "ZEIKAN_MARKER_INTERVAL_S",
        "snapshot_store": "ZEIKAN_SNAPSHOT_STORE",
        "snapshot_every": "ZEIKAN_SNAPSHOT_EVERY",
        "snapshot_min_s": "ZEIKAN_SNAPSHOT_MIN_S",
        "snapshot_keep": "ZEIKAN_SNAPSHOT_KEEP",
        "stall_s": "ZEIKAN_STALL_S",
        "broker_timeout_s": "ZEIKAN_BROKER_TIMEOUT_S",
        "max_poll_interval_s": "ZEIKAN_MAX_POLL_INTERVAL_S",
        "overdue_interval_s": "ZEIKAN_OVERDUE_INTERVAL_S",
        "gc_refreeze_s": "ZEIKAN_GC_REFREEZE_S",
        "rules_check_s": "ZEIKAN_RULES_CHECK_S",
        "registry": "ZEIKAN_REGISTRY",
        "model_poll_s": "ZEIKAN_MODEL_POLL_S",
        "shadow_model": "ZEIKAN_SHADOW_MODEL",
    }

    def __post_init__(self) -> None:
        for name in ("batch_size", "web_port", "agent_fetch_wait_ms", "snapshot_every", "snapshot_keep", "waiting_limit"):
            if getattr(self, name) < 1:
                raise InvalidSetting(name, getattr(self, name), "an integer >= 1")
        for name in ("batch_within_s", "session_timeout_s", "heartbeat_s", "commit_interval_s", "model_poll_s", "marker_interval_s", "stall_s", "broker_timeout_s", "max_poll_interval_s", "gc_refreeze_s"):
            if not getattr(self, name) > 0:
                raise InvalidSetting(name, getattr(self, name), "a number of seconds > 0")
        if self.heartbeat_s >= self.session_timeout_s:
            raise InvalidSetting("heartbeat_s", self.heartbeat_s, "less than session_timeout_s")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: Any) -> WorkerSettings:
        """Flags (``None`` = not given) win over ``env`` (default ``os.environ``), then defaults."""
        return settings_from_env(cls, env, flags)

    @property
    def snapshots(self) -> bool:
        """Whether snapshots are written (``ZEIKAN_SNAPSHOT_STORE=none`` turns them off)."""
        return self.snapshot_store.lower() != "none"

    def snapshot_url(self) -> str:
        """The snapshot store's URL."""
        return self.snapshot_store or str(Path(self.workdir) / "snapshots")

    @staticmethod
    def limits() -> Limits:
        """Input limits (``ZEIKAN_MAX_*``; see :class:`zeikan.schemas.limits.Limits`)."""
        return Limits.from_env()

    def load_engine_config(self) -> EngineConfig:
        """The engine configuration: defaults, overridden by ``engine_config`` when set."""
        if not self.engine_config:
            return EngineConfig()
        return load_engine_config(Path(self.engine_config))


@dataclass(frozen=True)
class LearningSettings:
    """Continuous learning in the workers and ``zeikan replay`` (both must use the same values).

    On: at every ``every_days``-th event-time day boundary a candidate is trained on the
    last ``train_days`` of declarations and inspection results, compared with the serving
    model on the last ``eval_days``, registered, and its decision published on
    ``model-promotions``; it serves declarations filed ``effective_delay_h`` hours after
    the boundary. The ``LIVE`` pointer then no longer chooses the serving model.
    """

    enabled: bool = False
    """Whether the workers learn continuously (``ZEIKAN_LEARNING``; on in docker-compose.yml)."""
    every_days: int = 1
    """Days between two candidates (``ZEIKAN_LEARN_EVERY_DAYS``)."""
    train_days: int = 60
    """Days of events a candidate trains on, the buffer's horizon (``ZEIKAN_LEARN_TRAIN_DAYS``)."""
    eval_days: int = 7
    """The most recent labelled window the candidate must win on (``ZEIKAN_LEARN_EVAL_DAYS``)."""
    min_eval_positives: int = 10
    """Fewer labelled hits in that window and nothing is promoted (``ZEIKAN_LEARN_MIN_EVAL_POSITIVES``)."""
    min_gain: float = 0.0
    """The candidate must beat the serving model by more than this (``ZEIKAN_LEARN_MIN_GAIN``)."""
    effective_delay_h: int = 24
    """Event-time hours from a boundary to the first declaration its decision serves (``ZEIKAN_LEARN_EFFECTIVE_DELAY_H``)."""
    base_model: str = ""
    """Registry version serving before the first promotion; empty: the newest version that is no
    continuous-learning candidate (``zeikan train``'s), else the heuristic (``ZEIKAN_LEARN_BASE_MODEL``)."""

    ENV = {
        "enabled": "ZEIKAN_LEARNING",
        "every_days": "ZEIKAN_LEARN_EVERY_DAYS",
        "train_days": "ZEIKAN_LEARN_TRAIN_DAYS",
        "eval_days": "ZEIKAN_LEARN_EVAL_DAYS",
        "min_eval_positives": "ZEIKAN_LEARN_MIN_EVAL_POSITIVES",
        "min_gain": "ZEIKAN_LEARN_MIN_GAIN",
        "effective_delay_h": "ZEIKAN_LEARN_EFFECTIVE_DELAY_H",
        "base_model": "ZEIKAN_LEARN_BASE_MODEL",
    }

    def __post_init__(self) -> None:
        for name in ("every_days", "train_days", "eval_days"):
            if getattr(self, name) < 1:
                raise InvalidSetting(name, getattr(self, name), "an integer >= 1")
        if self.eval_days >= self.train_days:
            raise InvalidSetting("eval_days", self.eval_days, f"fewer days than train_days ({self.train_days})")
        if self.effective_delay_h < 0:
            raise InvalidSetting("effective_delay_h", self.effective_delay_h, "an integer >= 0")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: Any) -> LearningSettings:
        """Flags (``None`` = not given) win over ``env`` (default ``os.environ``), then defaults."""
        return settings_from_env(cls, env, flags)

    def continuous(self, env: Mapping[str, str] | None = None) -> ContinuousSettings:
        """The pure learner's settings (LightGBM's from ``ZEIKAN_TRAIN_*``)."""
        return ContinuousSettings(retrain_every_days=self.every_days, train_days=self.train_days,
                                  eval_days=self.eval_days, min_gain=self.min_gain,
                                  min_eval_positives=self.min_eval_positives, train=TrainSettings.from_env(env))

    def schedule(self) -> Schedule:
        """When candidates are trained and take effect."""
        return Schedule(every_days=self.every_days, delay_ms=self.effective_delay_h * HOUR_MS)


def load_engine_config(path: Path) -> EngineConfig:
    """Read an :class:`EngineConfig` YAML; raises :class:`EngineConfigError`."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        return EngineConfig.from_mapping(raw)
    except OSError as exc:
        raise EngineConfigError(str(path), exc.strerror or str(exc)) from None
    except (yaml.YAMLError, ValueError, TypeError, AttributeError) as exc:
        raise EngineConfigError(str(path), str(exc).replace("\n", " ")) from None


def kafka_settings(bootstrap: str | None = None) -> KafkaSettings:
    """Kafka settings of the worker (flag, then ``ZEIKAN_BOOTSTRAP`` etc.)."""
    return KafkaSettings.from_env(bootstrap=bootstrap)
