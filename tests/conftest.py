"""Fixtures shared by every test area: the embedded Kafka broker and test isolation.

* ``broker`` (session): one :class:`EmbeddedBroker` (Tansu, in memory) for the whole
  run, with every contract topic provisioned (8 partitions). Tests that write to the
  contract topic names on it see each other's records: use one of the two below.
* ``fresh_topics`` (factory): unique topic names on the session broker, created on
  demand, e.g. ``t = fresh_topics("declarations", "decisions")`` then
  ``t["declarations"]`` is ``"declarations-t3"``.
* ``fresh_broker`` (factory): a broker of the test's own with the contract topic names
  (for code that uses the contract names, such as the CLI); stopped at test end.
  A Tansu broker starts in well under a second.
* ``durable_broker`` (factory): like ``fresh_broker`` but on durable storage (a local S3
  server on a folder of the test's own): ``broker.kill()`` SIGKILLs Tansu only,
  ``broker.start()`` brings it back on the same port and storage, ``broker.restart()``
  stops and starts both processes; stopped at test end.

Tests that use any of them are marked ``integration`` automatically, so
``pytest -m "not integration"`` runs the broker-free layer only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from zeikan.schemas.contract import TOPICS
from zeikan.streams.kafka.broker import EmbeddedBroker
from zeikan.streams.kafka.kafka_io import ensure_topics

BROKER_FIXTURES = frozenset({"broker", "fresh_topics", "fresh_broker", "durable_broker"})
_topic_serial = itertools.count(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs a broker as ``integration``."""
    for item in items:
        if BROKER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """The session's embedded broker, started once; ``broker.bootstrap`` is its address."""
    log_path = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(port=0, partitions=8, log_path=log_path) as started:
        yield started


@pytest.fixture
def fresh_topics(broker: EmbeddedBroker) -> Callable[..., dict[str, str]]:
    """Factory: ``fresh_topics(*names, partitions=8)`` -> {name: unique topic on ``broker``}."""

    def make(*names: str, partitions: int = 8) -> dict[str, str]:
        serial = next(_topic_serial)
        unique = {name: f"{name}-t{serial}" for name in names}
        ensure_topics(broker.bootstrap, unique.values(), partitions)
        return unique

    return make


@pytest.fixture
def fresh_broker(tmp_path: Path) -> Iterator[Callable[..., EmbeddedBroker]]:
    """Factory: ``fresh_broker(partitions=8, topics=contract topics)`` -> a started broker."""
    started: list[EmbeddedBroker] = []

    def make(partitions: int = 8, topics: Iterable[str] = tuple(TOPICS)) -> EmbeddedBroker:
        log_path = tmp_path / f"tansu-{len(started)}.log"
        one = EmbeddedBroker(partitions=partitions, topics=topics, log_path=log_path)
        started.append(one.start())
        return one

    yield make
    for one in started:
        one.stop()


@pytest.fixture
def durable_broker(tmp_path: Path) -> Iterator[Callable[..., EmbeddedBroker]]:
    """Factory: ``durable_broker(partitions=8, topics=contract topics)`` -> a started durable broker.

    Its data directory is ``broker.data_dir`` (under ``tmp_path``), its Tansu log ``broker.log_path``.
    """
    started: list[EmbeddedBroker] = []

    def make(partitions: int = 8, topics: Iterable[str] = tuple(TOPICS)) -> EmbeddedBroker:
        data_dir = tmp_path / f"broker-{len(started)}"
        one = EmbeddedBroker(partitions=partitions, topics=topics, storage="durable", data_dir=data_dir)
        started.append(one.start())
        return one

    yield make
    for one in started:
        one.stop()
