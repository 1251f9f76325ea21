"""In-memory stand-ins for the Faust app, stream and events, so an agent's step runs without a broker.

As Faust's ``agent.test_context()`` and quix's ``sdf.test()`` do: :func:`pipeline` builds the
pieces an agent's ``register(p)`` reads, the agent functions are captured instead of started,
and :func:`run_agent` feeds one batch of events and returns what the agent sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from zeikan.schemas.codec import codec_for
from zeikan.streams.agents.common import BatchRunner
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.observability.hooks import PipelineHooks


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: Any

    @property
    def tp(self) -> TP:
        return TP(self.topic, self.partition)

    def incref(self) -> None:
        """Faust's reference count: nothing to hold here."""


@dataclass
class Event:
    key: bytes | None
    value: Any
    message: Message
    acked: bool = False

    def ack(self) -> None:
        self.acked = True


@dataclass
class Sent:
    topic: str
    key: bytes | None
    value: bytes
    headers: Any = None

    def json(self) -> Any:
        return json.loads(self.value)

    def record(self) -> dict[str, Any]:
        """The Avro record of a contract topic."""
        return codec_for(self.topic).decode(self.value)


class Producer:
    def __init__(self) -> None:
        self.sent: list[Sent] = []

    async def send(self, topic: str, key: bytes | None, value: bytes, partition: Any, timestamp: Any, headers: Any) -> Any:
        self.sent.append(Sent(topic, key, value, headers))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class Topic:
    """A named topic; ``send`` (used by timers) records like the producer."""

    def __init__(self, name: str, producer: Producer) -> None:
        self.name, self._producer = name, producer

    def get_topic_name(self) -> str:
        return self.name

    async def send(self, key: bytes, value: Any) -> None:
        self._producer.sent.append(Sent(self.name, key, json.dumps(value).encode()))


class App:
    """Captures agents, timers and tasks instead of running them."""

    def __init__(self, owned: set[TP]) -> None:
        self.producer = Producer()
        self.consumer = SimpleNamespace(assignment=lambda: owned, _committed_offset={})
        self.agents: dict[str, Callable[..., Any]] = {}

    def agent(self, topic: Any, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def add(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.agents[name] = fn
            return fn
        return add

    def timer(self, interval: float, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.agent(None, name)

    def task(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        self.agents[fn.__name__] = fn
        return fn


class Stream:
    """One ``take_events`` batch."""

    def __init__(self, events: list[Event]) -> None:
        self.events, self.current_event = events, None

    async def take_events(self, n: int, within: float) -> Any:
        yield self.events

    def _set_current_event(self, event: Any) -> None:
        self.current_event = event


TOPICS = ("declarations", "inspections", "scans", "facts", "decisions", "overdue", "container_events", "declaration_joins")


@dataclass
class Hooks(PipelineHooks):
    """Records what the agents report."""

    calls: list[tuple[str, Any]] = field(default_factory=list)

    def on_unmatched(self, topic: str, n: int) -> None:
        self.calls.append(("unmatched", (topic, n)))

    def on_dead_letter(self, topic: str, kind: str) -> None:
        self.calls.append(("dead_letter", (topic, kind)))


def pipeline(**parts: Any) -> SimpleNamespace:
    """The parts of a :class:`~zeikan.streams.app.Pipeline` the agents read; ``parts`` override them."""
    names = {"declarations": "declarations", "inspections": "inspection-results", "scans": "scans", "facts": "zeikan-facts",
             "decisions": "decisions", "overdue": "scan-overdue", "container_events": "zeikan-container-events",
             "declaration_joins": "zeikan-declaration-joins"}
    owned = {TP(name, 0) for name in names.values()}
    app = App(owned)
    hooks = Hooks()
    p = SimpleNamespace(
        app=app, hooks=hooks, runner=BatchRunner(app, hooks, "zeikan-facts"), config=EngineConfig(),  # type: ignore[arg-type]
        settings=SimpleNamespace(batch_size=100, batch_within_s=0.01, overdue_interval_s=1.0, marker_interval_s=1.0,
                                 waiting_limit=5000),
        topics=SimpleNamespace(**{attr: Topic(name, app.producer) for attr, name in names.items()}),
        tables=SimpleNamespace(containers={}, joins={}),
        state=SimpleNamespace(clock=0, marked={}),
        learner=None,
    )
    for name, value in parts.items():
        setattr(p, name, value)
    return p


def event(topic: str, key: str, value: Any, offset: int = 0) -> Event:
    """An event at ``offset`` of partition 0 of ``topic``."""
    raw = key.encode()
    return Event(raw, value, Message(topic, 0, offset, raw, value))


def run_agent(p: SimpleNamespace, name: str, events: list[Event]) -> list[Sent]:
    """Feed one batch to the agent ``name``; what it sent (and flushed) before acking."""
    before = len(p.app.producer.sent)
    asyncio.run(p.app.agents[name](Stream(events)))
    return p.app.producer.sent[before:]
