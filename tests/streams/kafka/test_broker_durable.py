"""The durable embedded broker: Tansu on a local S3 server (rclone) over a data directory.

Real processes only: records published and acknowledged survive a SIGKILL of Tansu and a
full stop/start of both processes; a second broker on the same directory is refused;
the generated credentials stay out of every log.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import pytest

from zeikan.streams.kafka.broker import EmbeddedBroker
from zeikan.child_process import port_open
from zeikan.streams.errors import DataDirInUse
from zeikan.streams.kafka.kafka_io import publish, read_topic

MakeBroker = Callable[..., EmbeddedBroker]


def _records(prefix: str, count: int) -> list[tuple[bytes, bytes]]:
    return [(f"{prefix}-k{i % 13}".encode(), f"{prefix}-v{i}".encode()) for i in range(count)]


def _wait_until(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def _read_all(broker: EmbeddedBroker, topic: str, expected: int) -> list[tuple[bytes | None, bytes]]:
    got = read_topic(broker.bootstrap, topic, from_beginning=True, limit=expected, idle_timeout_s=10)
    return [(record.key, record.value) for record in got]


def test_acknowledged_records_survive_a_sigkill_of_tansu_and_a_full_restart(durable_broker: MakeBroker) -> None:
    broker = durable_broker(partitions=4, topics=("declarations",))
    port, first_pid = broker.port, broker.tansu_pid
    sent: list[tuple[bytes, bytes]] = []
    for prefix, count, restart in (("a", 400, "sigkill"), ("b", 300, "restart"), ("c", 200, None)):
        batch = _records(prefix, count)
        assert publish(broker.bootstrap, [("declarations", v, k) for k, v in batch]) == count
        sent += batch
        if restart == "sigkill":
            os.kill(first_pid, signal.SIGKILL)  # what broker.kill() does; the S3 server keeps running
            _wait_until(lambda: not broker.running)
            broker.start()
            assert broker.tansu_pid != first_pid
        elif restart == "restart":
            broker.restart()  # both processes stopped and started again
        assert broker.port == port
    # read only at the end: produce right after a restart must not overwrite stored records
    assert sorted(_read_all(broker, "declarations", len(sent))) == sorted(sent)


def test_memory_storage_keeps_the_port_but_not_the_records(fresh_broker: MakeBroker) -> None:
    broker = fresh_broker(partitions=1, topics=("declarations",))
    port = broker.port
    publish(broker.bootstrap, [("declarations", b"v", b"k")])
    broker.kill()
    broker.start()
    assert broker.port == port
    assert _read_all(broker, "declarations", 1) == []


def test_a_second_broker_on_the_same_directory_is_refused(durable_broker: MakeBroker) -> None:
    broker = durable_broker(topics=())
    twin = EmbeddedBroker(storage="durable", data_dir=broker.data_dir, topics=())
    with pytest.raises(DataDirInUse, match=rf"{broker.data_dir} is in use by pid {os.getpid()}"):
        twin.start()
    assert broker.running and not twin.running
    broker.stop()
    twin.start()  # the lock is released with the broker that held it
    assert twin.running
    twin.stop()


def test_credentials_are_private_and_never_logged(durable_broker: MakeBroker) -> None:
    broker = durable_broker(topics=("declarations",))
    publish(broker.bootstrap, [("declarations", b"v", b"k")])
    creds = broker.data_dir / "s3-credentials.env"
    assert creds.stat().st_mode & 0o777 == 0o600
    secret = dict(line.split("=", 1) for line in creds.read_text().splitlines())["AWS_SECRET_ACCESS_KEY"]
    assert len(secret) >= 32
    broker.restart()
    assert secret in creds.read_text(), "the same credentials are reused on restart"
    for log in broker.data_dir.glob("*.log"):
        assert secret not in log.read_text()
    assert secret not in repr(broker.storage.server.credentials)


def test_a_copy_of_a_stopped_broker_directory_is_a_working_backup(durable_broker: MakeBroker, tmp_path) -> None:
    import shutil

    broker = durable_broker(partitions=2, topics=("decisions",))
    sent = _records("c", 150)
    publish(broker.bootstrap, [("decisions", v, k) for k, v in sent])
    broker.stop()
    backup = tmp_path / "backup"
    shutil.copytree(broker.data_dir, backup)
    restored = EmbeddedBroker(storage="durable", data_dir=backup, topics=())
    with restored:
        assert sorted(_read_all(restored, "decisions", len(sent))) == sorted(sent)


def test_a_busy_s3_port_is_a_clear_error_that_leaves_the_directory_free(tmp_path) -> None:
    import socket

    from zeikan.streams.errors import ObjectStoreError

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        broker = EmbeddedBroker(storage="durable", data_dir=tmp_path / "d", s3_port=busy, topics=())
        with pytest.raises(ObjectStoreError, match=f"port {busy} is in use"):
            broker.start()
        assert not broker.running
    with EmbeddedBroker(storage="durable", data_dir=tmp_path / "d", topics=()) as again:
        assert again.running


def test_a_producer_waiting_at_the_port_through_a_restart_overwrites_nothing(durable_broker: MakeBroker) -> None:
    """A client that produces the moment the port opens again must not write over stored records."""
    broker = durable_broker(partitions=8, topics=("declarations",))
    first, second = _records("a", 160), _records("b", 160)
    publish(broker.bootstrap, [("declarations", v, k) for k, v in first])
    broker.kill()
    assert not port_open(broker.host, broker.port), "a killed broker's port refuses connections"
    acknowledged: list[int] = []

    def produce_as_soon_as_the_port_opens() -> None:
        _wait_until(lambda: port_open(broker.host, broker.port), 30)
        acknowledged.append(publish(broker.bootstrap, [("declarations", v, k) for k, v in second]))

    producer = threading.Thread(target=produce_as_soon_as_the_port_opens)
    producer.start()
    broker.start()
    producer.join(60)
    assert acknowledged == [len(second)]
    assert sorted(_read_all(broker, "declarations", len(first) + len(second))) == sorted(first + second)
