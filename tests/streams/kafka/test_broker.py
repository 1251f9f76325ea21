"""The embedded broker, topic provisioning and the Kafka I/O helpers against it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import pytest

from zeikan.schemas.contract import TOPICS
from zeikan.streams.kafka.broker import EmbeddedBroker
from zeikan.schemas.errors import UnknownTopic
from zeikan.streams.errors import BrokerStartFailed, BrokerUnreachable
from zeikan.streams.kafka.kafka_config import KafkaSettings
from zeikan.streams.kafka.kafka_io import (
    describe_topics,
    ensure_topics,
    list_topic_names,
    publish,
    read_topic,
    record_key,
)


def test_start_provisions_contract_topics_and_stop_frees_the_port(tmp_path) -> None:
    topics = (*TOPICS, "app-changelog")
    broker = EmbeddedBroker(partitions=3, topics=topics, log_path=tmp_path / "t.log")
    with broker:
        assert broker.running
        infos = {info.name: info for info in describe_topics(broker.bootstrap)}
        assert set(infos) == set(topics)
        assert {info.partitions for info in infos.values()} == {3}
        assert (tmp_path / "t.log").read_text().strip(), "Tansu output goes to the log file"
    assert not broker.running
    with socket.socket() as sock:
        assert sock.connect_ex((broker.host, broker.port)) != 0


def test_start_on_a_busy_port_fails_with_a_clear_error(broker: EmbeddedBroker, tmp_path) -> None:
    squatter = EmbeddedBroker(port=broker.port, log_path=tmp_path / "t.log", ready_timeout_s=2)
    with pytest.raises(BrokerStartFailed, match="in use"):
        squatter.start()
    assert broker.running


def test_ensure_topics_is_idempotent_and_keeps_partition_counts(broker: EmbeddedBroker) -> None:
    assert ensure_topics(broker.bootstrap, ["idem-a", "idem-b"], partitions=2) == ["idem-a", "idem-b"]
    assert ensure_topics(broker.bootstrap, ["idem-a", "idem-c"], partitions=5) == ["idem-c"]
    counts = {i.name: i.partitions for i in describe_topics(broker.bootstrap, ["idem-a", "idem-c"])}
    assert counts == {"idem-a": 2, "idem-c": 5}
    assert {"idem-a", "idem-b", "idem-c"} <= set(list_topic_names(broker.bootstrap))


def test_fresh_topics_are_unique_per_call(fresh_topics: Callable[..., dict[str, str]]) -> None:
    first, second = fresh_topics("declarations"), fresh_topics("declarations")
    assert first["declarations"] != second["declarations"]


def test_produced_records_read_back_in_key_order_per_partition(
    broker: EmbeddedBroker, fresh_topics: Callable[..., dict[str, str]]
) -> None:
    topic = fresh_topics("io", partitions=4)["io"]
    sent = [(f"k{i % 7}".encode(), f"v{i}".encode()) for i in range(500)]
    assert publish(broker.bootstrap, [(topic, value, key) for key, value in sent]) == 500
    got = list(read_topic(broker.bootstrap, topic, from_beginning=True, limit=500))
    assert sorted((r.key, r.value) for r in got) == sorted(sent)
    for key in {k for k, _ in sent}:
        assert [r.value for r in got if r.key == key] == [v for k, v in sent if k == key]
    assert sum(info.messages for info in describe_topics(broker.bootstrap, [topic])) == 500


def test_reading_from_the_end_sees_only_later_records(
    broker: EmbeddedBroker, fresh_topics: Callable[..., dict[str, str]]
) -> None:
    topic = fresh_topics("tail", partitions=2)["tail"]
    # batched: Tansu's listed end offset lags behind the true end here
    publish(broker.bootstrap, [(topic, b"old", str(i).encode()) for i in range(300)])

    def produce_new() -> None:
        publish(broker.bootstrap, [(topic, b"new", str(i).encode()) for i in range(20)])

    reader = read_topic(broker.bootstrap, topic, idle_timeout_s=10, limit=20)
    timer = threading.Timer(0.5, produce_new)
    timer.start()
    values = [record.value for record in reader]
    timer.join()
    assert values == [b"new"] * 20


def test_unknown_topic_and_unreachable_broker_raise_zeikan_errors(broker: EmbeddedBroker) -> None:
    with pytest.raises(UnknownTopic, match="no-such-topic"):
        list(read_topic(broker.bootstrap, "no-such-topic", idle_timeout_s=0.1))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(BrokerUnreachable, match=dead):
        list_topic_names(dead)


def test_record_key_follows_the_contract_key_field() -> None:
    assert record_key("scans", {"container_id": "MSCU1234565"}) == b"MSCU1234565"
    assert record_key("declarations", {"declaration_id": None}) is None


def test_settings_flags_win_over_env_over_defaults() -> None:
    env = {"ZEIKAN_BOOTSTRAP": "kafka:19092", "ZEIKAN_PARTITIONS": "3"}
    assert KafkaSettings.from_env(env={}) == KafkaSettings()
    assert KafkaSettings.from_env(env=env) == KafkaSettings("kafka:19092", 3)
    assert KafkaSettings.from_env(env=env, bootstrap="h:1", partitions=None).bootstrap == "h:1"


@pytest.mark.parametrize(
    ("env", "match"),
    [({"ZEIKAN_PARTITIONS": "x"}, "integer"), ({"ZEIKAN_PARTITIONS": "0"}, ">= 1"),
     ({"ZEIKAN_REPLICATION": "0"}, ">= 1")],
)  # fmt: skip
def test_settings_reject_bad_values(env: dict[str, str], match: str) -> None:
    from zeikan.streams.errors import InvalidSetting

    with pytest.raises(InvalidSetting, match=match):
        KafkaSettings.from_env(env=env)
