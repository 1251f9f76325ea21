"""``zeikan broker`` in its default durable mode, as a real process: its two children
(Tansu and the local S3 server) start and stop with it, also when it is SIGKILLed; the
topics survive it; a second one on the same directory is refused in one line; the
generated secret is never printed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zeikan.streams.kafka.kafka_io import publish, read_topic

pytestmark = pytest.mark.integration


def _start(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "zeikan.cli.main", "broker", "--data-dir", str(data_dir),
               "--port", "0", "--s3-port", "0", "--partitions", "2"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def _gone(pids: set[int], timeout_s: float = 10) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0].lower()
    except (FileNotFoundError, IndexError):
        return "zombie"


def _secret(data_dir: Path) -> str:
    lines = (data_dir / "s3-credentials.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)["AWS_SECRET_ACCESS_KEY"]


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_broker_command_is_durable_refuses_a_twin_and_leaves_no_orphans(tmp_path: Path) -> None:
    data_dir = tmp_path / "broker"
    first, bootstrap = _start(data_dir)
    try:
        children = _children(first.pid)
        assert len(children) == 2, "Tansu and the local S3 server"
        assert publish(bootstrap, [("declarations", f"v{i}".encode(), f"k{i}".encode()) for i in range(200)]) == 200

        twin = subprocess.run(
            [sys.executable, "-m", "zeikan.cli.main", "broker", "--data-dir", str(data_dir), "--port", "0"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert twin.returncode == 1
        assert twin.stderr.strip().splitlines() == [
            f"error: broker data directory {data_dir} is in use by pid {first.pid}: stop that broker "
            f"first or pass another --data-dir"
        ]
        first.send_signal(signal.SIGTERM)
        out, err = first.communicate(timeout=30)
        assert first.returncode == 0
        assert _gone(children), "both children stop with zeikan broker"
        secret = _secret(data_dir)
        assert secret not in bootstrap + out + err
        assert "durable" in err and str(data_dir / "s3-credentials.env") in err
    finally:
        first.kill()

    second, bootstrap = _start(data_dir)
    try:
        children = _children(second.pid)
        values = {r.value for r in read_topic(bootstrap, "declarations", from_beginning=True, limit=200, idle_timeout_s=10)}
        assert values == {f"v{i}".encode() for i in range(200)}
        os.kill(second.pid, signal.SIGKILL)
        second.wait(timeout=10)
        assert _gone(children), "a SIGKILLed zeikan broker takes its children with it"
    finally:
        second.kill()
