"""bench/relay.py pieces that need no broker: progress accounting and per-process memory."""

from __future__ import annotations

import subprocess
import sys

from zeikan.bench.relay import WARMUP, Progress, peak_rss_mb


def test_progress_counts_measured_records_apart_from_warmups() -> None:
    progress = Progress()
    progress.add([WARMUP + b"true}", WARMUP + b"true}"])
    assert (progress.count, progress.warmups, progress.first) == (0, 2, 0.0)
    progress.add([b'{"declaration_id": "A"}', WARMUP + b"true}", b'{"declaration_id": "B"}'])
    assert (progress.count, progress.warmups) == (2, 3)
    assert 0 < progress.first <= progress.last


def test_peak_memory_is_the_worker_process_own_not_its_parents() -> None:
    ballast = bytearray(200 * 1024 * 1024)
    parent = peak_rss_mb()
    code = "from zeikan.bench.relay import peak_rss_mb; print(peak_rss_mb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert parent > 200 > child > 0
    del ballast
