"""Tiny helpers shared by the benches: one JSON line per figure set, wall-clock timing."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO


@dataclass
class Timing:
    """Elapsed wall-clock seconds of a :func:`timed` block (set when the block ends)."""

    seconds: float = 0.0

    def rate(self, count: float) -> float:
        """``count`` per second over the block."""
        return count / self.seconds if self.seconds > 0 else float("inf")


@contextmanager
def timed() -> Iterator[Timing]:
    """Measure the wall-clock time of a ``with`` block.

    >>> with timed() as t:
    ...     _ = sum(range(1000))
    >>> t.seconds > 0
    True
    """
    timing = Timing()
    started = time.perf_counter()
    try:
        yield timing
    finally:
        timing.seconds = time.perf_counter() - started


def emit(bench: str, out: TextIO | None = None, **figures: Any) -> dict[str, Any]:
    """Print one JSON line ``{"bench": .., **figures}`` (floats to 4 significant digits).

    >>> _ = emit("demo", records=3, seconds=0.123456)
    {"bench": "demo", "records": 3, "seconds": 0.1235}
    """
    line = {"bench": bench, **{k: _round(v) for k, v in figures.items()}}
    print(json.dumps(line), file=out or sys.stdout, flush=True)
    return line


def _round(value: Any) -> Any:
    return float(f"{value:.4g}") if isinstance(value, float) else value


def http_get(port: int, path: str) -> tuple[int, bytes]:
    """Status and body of a GET on a worker (0 when it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""
