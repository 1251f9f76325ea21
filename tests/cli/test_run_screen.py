"""``zeikan run`` in a pseudo-terminal: day one selects near capacity and a POST_SCAN verdict with its image score shows."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")
SELECTED = re.compile(r"PRE_ARRIVAL selected (\d+) of (\d+) \(([\d.]+) %, capacity (\d+) %\)")
VERDICT = re.compile(r"(D\d{12})\s*│\s*(RELEASE|PHYSICAL_EXAM)\s*│\s*(\d\.\d\d)\s*│")
DEADLINE_S = 240


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read(fd: int, timeout: float) -> str:
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return ""
    try:
        return os.read(fd, 65536).decode("utf-8", "replace")
    except OSError:
        return ""


def test_run_shows_selections_at_capacity_and_a_post_scan_verdict(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 120, 220, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONUNBUFFERED": "1"}
    env.pop("COLUMNS", None), env.pop("LINES", None)
    cmd = [sys.executable, "-m", "zeikan.cli.main", "run", "--workdir", str(tmp_path / "run"),
           "--registry", str(tmp_path / "registry"), "--web-port", str(_free_port()), "--days", "1", "--speed", "1440",
           "--per-day", "1500", "--train-days", "20", "--train-per-day", "400", "--ui-port", str(ui_port := _free_port())]
    proc = subprocess.Popen(["nice", "-n", "19", *cmd], stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)
    screen, selected, verdict = "", None, None
    try:
        started = time.monotonic()
        while time.monotonic() - started < DEADLINE_S and proc.poll() is None and not (verdict and selected):
            screen += _read(master, 1.0)
            text = ANSI.sub("", screen)
            shares = [m for m in SELECTED.finditer(text) if int(m.group(2)) >= 1000]
            selected = shares[-1] if shares else None
            verdict = VERDICT.search(text)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever it left behind (its own session): the web app, the workers
        os.close(master)
    tail = ANSI.sub("", screen)[-3000:]
    assert selected is not None, f"no PRE_ARRIVAL selection share on the screen after 1000 declarations:\n{tail}"
    share, capacity = float(selected.group(3)), float(selected.group(4))
    assert share >= 0.7 * capacity, selected.group(0)
    assert verdict is not None, f"no POST_SCAN verdict on the screen within {DEADLINE_S} s:\n{tail}"
    assert f"http://127.0.0.1:{ui_port}/worklist" in ANSI.sub("", screen), "the officers' web app on the port asked for"
    assert 0.0 <= float(verdict.group(3)) <= 1.0
