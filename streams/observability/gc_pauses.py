"""Garbage-collector pauses: measured (``zeikan_gc_pause_seconds``, generations 1 and 2) and kept short.

A full (generation 2) collection walks every object the collector tracks and stops the
worker while it runs. On ``bench/pipeline.py``'s latency run (1,000 declarations/s, one
worker), full collections stopped it every few seconds, for 55-320 ms, growing as the run
went on. :func:`refreeze` collects everything once and then moves every object alive out of
the later collections' walks (``gc.freeze``: imports, the model, restored state); a frozen
object that is no longer referenced is still freed at once (reference counting), only a
cycle among frozen objects waits for the next refreeze. The worker refreezes once caught up
and then every ``gc_refreeze_s`` (one full pause each time), so the walks cover only the
objects created since. Measured on the latency run, 5 runs each, alternating: full
collections after the freeze 15-105 ms against 55-320 ms, p99 latency 324 / 295 / 380 / 292 /
370 ms against 435 / 425 / 384 / 436 / 377 ms.

Generation 0 is not measured: it runs hundreds of times a second for well under a
millisecond, and observing each one cost 0.8 % of a worker's CPU (py-spy, ``bench/scaling.py``
with two workers).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Histogram

GC_PAUSE_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def watch_pauses(histogram: Histogram) -> Callable[[str, dict[str, Any]], None]:
    """Observe the duration of every collection of generation 1 or 2 into ``histogram`` (label ``generation``); returns
    the installed callback.

    >>> from prometheus_client import CollectorRegistry
    >>> registry = CollectorRegistry()
    >>> pauses = Histogram("pause_seconds", "", ["generation"], registry=registry)
    >>> callback = watch_pauses(pauses)
    >>> _ = gc.collect()
    >>> gc.callbacks.remove(callback)
    >>> registry.get_sample_value("pause_seconds_count", {"generation": "2"}) >= 1
    True
    """
    started = [0.0]
    children = {generation: histogram.labels(generation=str(generation)) for generation in (1, 2)}

    def callback(phase: str, info: dict[str, Any]) -> None:
        if info["generation"] == 0:
            return
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            children[info["generation"]].observe(time.perf_counter() - started[0])

    gc.callbacks.append(callback)
    return callback


def refreeze() -> int:
    """Collect everything (frozen objects included), then freeze what is alive; returns the objects now frozen.

    >>> refreeze() > 0 and gc.get_freeze_count() > 0
    True
    >>> gc.unfreeze()
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
