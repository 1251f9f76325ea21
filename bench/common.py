"""Tiny helpers shared by the benches: one JSON line per figure set, wall-clock timing."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
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


def simulated_history(out: Path, seed: int, days: int, per_day: int) -> Any:
    """A simulated ``days``-day history written to ``out`` and loaded back (a :class:`~zeikan.features.history.History`)."""
    from zeikan.features.history import load_history
    from zeikan.sim.settings import SimSettings
    from zeikan.sim.simulate import simulate

    simulate(SimSettings(seed=seed, days=days, per_day=per_day), out)
    return load_history(str(out))


def trained_registry(root: Path, days: int = 30, per_day: int = 500, seed: int = 0) -> tuple[Any, Any]:
    """(registry, model info): a registry under ``root`` whose live model is LightGBM trained on a simulated
    ``days``-day history."""
    from zeikan.models.registry import ModelRegistry
    from zeikan.models.training import train_tabular

    history = simulated_history(root / "history", seed, days, per_day)
    registry = ModelRegistry(str(root / "registry"))
    return registry, registry.register(train_tabular(history), history.data_hash, promote=True)


@contextmanager
def registry_env(url: str) -> Iterator[None]:
    """Within the block, worker subprocesses inherit ``ZEIKAN_REGISTRY=url``; the previous value is restored after."""
    previous = os.environ.get("ZEIKAN_REGISTRY")
    os.environ["ZEIKAN_REGISTRY"] = url
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("ZEIKAN_REGISTRY")
        else:
            os.environ["ZEIKAN_REGISTRY"] = previous


@contextmanager
def served_model() -> Iterator[str]:
    """Point the workers a bench starts at a freshly trained live LightGBM model; yields its version.

    So the stream benches measure the scoring path a deployment runs, whatever registry the checkout holds (a
    fresh one has none, and its workers would score with the heuristic). A ``ZEIKAN_REGISTRY`` already set is
    served as it is; one without a live model is refused.
    """
    given = os.environ.get("ZEIKAN_REGISTRY")
    if given:
        from zeikan.models.registry import ModelRegistry

        live = ModelRegistry(given).live_version()
        if live is None:
            raise SystemExit(f"ZEIKAN_REGISTRY={given} has no live model: the bench would measure the heuristic scorer")
        yield live
        return
    with tempfile.TemporaryDirectory() as tmp:
        registry, info = trained_registry(Path(tmp))
        with registry_env(registry.url):
            yield info.version
