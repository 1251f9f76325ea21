"""X-ray image figures: renderer images/s, ONNX images scored/s per batch size, p99 latency per scan.

``python -m zeikan.bench.images [--render 40] [--scans 64]`` prints JSON lines:

* ``images.render``: rendered canonical images/s (render + TIFF encode), one process;
* ``images.score``: CNN-only images/s at batch sizes 1, 8, 32 (onnxruntime, 2 threads);
* ``images.assess``: full ``assess_batch`` (store read, decode, CNN, heatmap PNG write,
  physics check) — scans/s in batches of 32 and p50/p99 latency of one scan assessed
  alone through ``assess_off_loop`` (as the stream calls it).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Sequence

import numpy as np

from zeikan.bench.common import emit, timed
from zeikan.images.canonical import encode
from zeikan.images.dataset import model_input
from zeikan.images.manifest import manifest_inputs
from zeikan.images.store import open_store
from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer
from zeikan.sim.xray import render
from zeikan.sim.xray_dataset import declared_items
from zeikan.streams.serving.scoring import assess_off_loop
from zeikan.sim.xray_loads import random_loads


def bench_render(n: int) -> dict:
    """Rendered and encoded images per second (single process)."""
    loads = random_loads(n, seed=21)
    with timed() as t:
        encoded = [encode(render(lo).image) for lo in loads]
    return emit("images.render", images=n, images_per_s=t.rate(n), mean_bytes=float(np.mean([len(b) for b in encoded])))


def bench_score(scorer: OnnxImageScorer, x: np.ndarray, manifests: np.ndarray, batch_sizes: Sequence[int] = (1, 8, 32)) -> dict:
    """CNN images per second at each batch size."""
    rates = {}
    for size in batch_sizes:
        scorer.batch_size = size
        scorer.score_inputs(x[:size], manifests[:size])  # warm-up
        with timed() as t:
            scorer.score_inputs(x, manifests)
        rates[f"batch_{size}_images_per_s"] = t.rate(len(x))
    scorer.batch_size = 32
    return emit("images.score", images=len(x), **rates)


def bench_assess(scorer: OnnxImageScorer, n: int) -> dict:
    """Full assessment: scans/s in batches of 32 and per-scan latency percentiles through the async API."""
    store_url = f"memory://bench-images-{uuid.uuid4().hex}"
    store = open_store(store_url)
    scans = []
    for lo in random_loads(n, seed=22):
        stored = store.put(render(lo).image)
        scans.append({"scan_id": lo.scan_id, "container_id": lo.container_id, "image_uri": stored.uri, "image_sha256": stored.sha256})
    declared = [[{"containers": [s["container_id"]], "items": [{"hs_code": "610910", "gross_weight_kg": 5000.0}]}] for s in scans]
    scorer.assess_batch(scans[:2], declared[:2])  # warm-up
    with timed() as t:
        for i in range(0, n, 32):
            scorer.assess_batch(scans[i : i + 32], declared[i : i + 32])

    async def one_by_one() -> list[float]:
        latencies = []
        for scan, decl in zip(scans, declared):
            started = time.perf_counter()
            await assess_off_loop(scorer, [({"declaration": decl[0]}, [scan])])
            latencies.append(time.perf_counter() - started)
        return latencies

    lat = np.array(asyncio.run(one_by_one())) * 1000.0
    return emit("images.assess", scans=n, batch_32_scans_per_s=t.rate(n),
                single_scan_p50_ms=float(np.percentile(lat, 50)), single_scan_p99_ms=float(np.percentile(lat, 99)))


def main(argv: Sequence[str] | None = None) -> None:
    """Run the image benches and print their JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--render", type=int, default=40, help="images to render")
    parser.add_argument("--scans", type=int, default=64, help="scans to score and assess")
    args = parser.parse_args(argv)
    bench_render(args.render)
    scorer = OnnxImageScorer(ImageScorerSettings.from_env())
    try:
        loads = random_loads(args.scans, seed=23)
        x = np.stack([model_input(render(lo).image) for lo in loads])
        bench_score(scorer, x, manifest_inputs([declared_items(lo) for lo in loads]))
        bench_assess(scorer, args.scans)
    finally:
        scorer.close()


if __name__ == "__main__":
    main()
