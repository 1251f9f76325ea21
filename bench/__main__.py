"""``make bench``: run every bench of ``bench/``, print one JSON summary, write a PNG.

``python -m zeikan.bench [--only NAME]... [--skip NAME]... [--timeout S] [--out DIR]``

Each bench module (publish, codec, simulate, pipeline, scaling, serving, model, images, images_adapt,
relay) runs in its own process (``python -m zeikan.bench.NAME``): a crash or a hang costs
that bench only, and memory figures stay per process. Every JSON object a bench prints is
kept. The summary adds the ratios of the full pipeline to reference engines measured in
the same run (a no-op Faust agent and a quixstreams JSON relay, ``bench/relay.py``), the
1 -> 2 worker scaling (``bench/scaling.py`` for the pipeline, ``bench/relay.py`` for the
references), the stream rate with the LightGBM model vs the no-op agent and the heuristic
(``bench/serving.py``) and the model's back-test quality (``model_quality``, from
``bench/model.py``: precision at a 5 % inspection rate of the risk model, the raw-column
baseline and the oracle, their ratios, AUCs). The PNG charts every throughput
(``*per_s*``), latency (``p50/p95/p99``) and memory (``rss``) figure. Numbers, not
assertions.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

BENCHES = ("publish", "codec", "simulate", "pipeline", "scaling", "serving", "model", "images", "images_adapt", "relay", "ui")
"""Bench modules in run order; the ones that do not exist are skipped."""
PIPELINE_RATE_KEYS = ("pipeline_decl_per_s", "declarations_per_s", "decisions_per_s", "pipeline_per_s")
"""Names under which ``bench/pipeline.py`` may report end-to-end throughput (first found wins)."""
PIPELINE_NOOP_KEYS = ("noop_faust_events_per_s",)
"""The no-op Faust agent that ``bench/pipeline.py`` measures over its own backlog."""
RELAY_RATE_KEY = "events_per_s"
QUALITY = r"precision_at_5%$|^p5_ratio_|_auc$"
"""Figures of ``bench/model.py``'s ``model_quality`` line that the summary repeats."""

Figures = list[dict[str, Any]]


def run_bench(name: str, timeout_s: float) -> dict[str, Any]:
    """Run ``zeikan.bench.<name>`` in a subprocess; its JSON lines, duration and any error."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", f"zeikan.bench.{name}"], capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return {"figures": json_lines(out), "seconds": round(time.monotonic() - started, 1), "error": f"timed out after {timeout_s:.0f} s"}
    result: dict[str, Any] = {"figures": json_lines(done.stdout), "seconds": round(time.monotonic() - started, 1)}
    if done.returncode != 0:
        result["error"] = f"exit {done.returncode}: " + " | ".join(done.stderr.strip().splitlines()[-3:])
    return result


def json_lines(text: str) -> Figures:
    """Every line of ``text`` that is a JSON object (other output is ignored)."""
    figures = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                figures.append(value)
    return figures


def first_figure(figures: Figures, keys: Iterable[str], where: dict[str, Any] | None = None) -> float | None:
    """The first numeric value under any of ``keys`` in lines matching ``where``."""
    for line in figures:
        if where and any(line.get(k) != v for k, v in where.items()):
            continue
        for key in keys:
            if isinstance(line.get(key), int | float):
                return float(line[key])
    return None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator`` rounded, or None when either is unknown."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


HEADLINE = r"per_s|p(50|95|99)|rss|memory"
"""Figures of the pipeline, scaling, serving, model and image benches that the summary repeats."""


def model_quality(figures: Figures) -> dict[str, Any]:
    """Precision@5 % (risk model, raw baseline, oracle), their ratios and AUCs from the ``model_quality`` line."""
    line = next((f for f in figures if f.get("bench") == "model_quality"), {})
    return {key: value for key, value in line.items() if re.search(QUALITY, key)}


def summarize(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Headline figures and ratios from every bench's JSON lines."""
    pipeline = results.get("pipeline", {}).get("figures", [])
    relay = results.get("relay", {}).get("figures", [])
    serving = results.get("serving", {}).get("figures", [])

    def relay_rate(engine: str, workers: int, mode: str) -> float | None:
        return first_figure(relay, [RELAY_RATE_KEY], {"engine": engine, "workers": workers, "mode": mode})

    pipeline_rate = first_figure(pipeline, PIPELINE_RATE_KEYS)
    noop, quix = relay_rate("faust-noop", 1, "backlog"), relay_rate("quix-relay", 1, "backlog")
    return {
        "pipeline_per_s": pipeline_rate,
        "faust_noop_per_s": noop,
        "faust_json_relay_per_s": relay_rate("faust-relay", 1, "backlog"),
        "quix_json_relay_per_s": quix,
        "relay_rss_mb_per_worker": {
            f"{line['engine']}x{line['workers']}-{line['mode']}": line["rss_mb_per_worker"]
            for line in relay
            if "rss_mb_per_worker" in line
        },
        **{
            name: chart_values({name: results.get(name, {})}, HEADLINE)
            for name in ("pipeline", "scaling", "serving", "model", "images")
        },
        "model_quality": model_quality(results.get("model", {}).get("figures", [])),
        "ratios": {
            "pipeline_2_vs_1_workers": first_figure(results.get("scaling", {}).get("figures", []), ["pipeline_2_vs_1_workers"]),
            "pipeline_vs_faust_noop": ratio(pipeline_rate, noop),
            "pipeline_vs_its_own_faust_noop": ratio(pipeline_rate, first_figure(pipeline, PIPELINE_NOOP_KEYS)),
            "pipeline_vs_quix_relay": ratio(pipeline_rate, quix),
            "faust_noop_vs_quix_relay": ratio(noop, quix),
            "faust_noop_2_vs_1_workers": ratio(relay_rate("faust-noop", 2, "live"), relay_rate("faust-noop", 1, "live")),
            "quix_relay_2_vs_1_workers": ratio(relay_rate("quix-relay", 2, "live"), relay_rate("quix-relay", 1, "live")),
            "serving_lgbm_vs_faust_noop": first_figure(serving, ["stream_lgbm_ratio_to_noop"]),
            "serving_lgbm_vs_heuristic": first_figure(serving, ["stream_lgbm_to_heuristic"]),
        },
        "errors": {name: r["error"] for name, r in results.items() if "error" in r},
    }


def line_labels(name: str, figures: Figures) -> list[str]:
    """A label per JSON line: its ``bench`` tag (else the module name), plus its text
    fields when several lines share a tag (e.g. ``publish.send[aiokafka]``)."""
    tags = [str(line.get("bench") or name) for line in figures]
    return [
        tag if tags.count(tag) == 1
        else f"{tag}[{', '.join(str(v) for k, v in line.items() if k != 'bench' and isinstance(v, str))}]"
        for tag, line in zip(tags, figures, strict=True)
    ]


def chart_values(results: dict[str, dict[str, Any]], pattern: str) -> dict[str, float]:
    """Every numeric figure whose key matches ``pattern``, labelled ``<line label>: <key>``."""
    values: dict[str, float] = {}
    for name, result in results.items():
        figures = result.get("figures", [])
        for tag, line in zip(line_labels(name, figures), figures, strict=True):
            for key, value in line.items():
                if re.search(pattern, key) and isinstance(value, int | float) and not isinstance(value, bool):
                    values[f"{tag}: {key}"] = float(value)
                elif re.search(pattern, key) and isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
                    values[f"{tag}: {key} (max)"] = float(max(value))
    return values


def write_chart(results: dict[str, dict[str, Any]], path: Path) -> list[str]:
    """PNG with throughput, latency and memory bars; returns the panels drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("throughput (per s, log)", chart_values(results, r"per_s"), True),
        ("latency (ms)", chart_values(results, r"p(50|95|99)"), False),
        ("memory per process (MB)", chart_values(results, r"rss"), False),
    ]
    panels = [p for p in panels if p[1]]
    if not panels:
        return []
    heights = [max(2.0, 0.28 * len(values) + 1.0) for _, values, _ in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, sum(heights)), gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (title, values, log) in zip(axes[:, 0], panels, strict=True):
        labels = list(values)
        ax.barh(labels, [values[k] for k in labels], color="#3b6ea5")
        ax.set_title(title)
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=7)
        if log:
            ax.set_xscale("log")
        for y, label in enumerate(labels):
            ax.text(values[label], y, f" {values[label]:,.4g}", va="center", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [title for title, _, _ in panels]


def available(names: Sequence[str]) -> list[str]:
    """The bench modules among ``names`` that exist."""
    return [name for name in names if importlib.util.find_spec(f"zeikan.bench.{name}") is not None]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the benches, print the JSON summary, write ``OUT/summary.json`` and ``OUT/bench.png``."""
    parser = argparse.ArgumentParser(prog="python -m zeikan.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=BENCHES, help="run only these benches (repeatable)")
    parser.add_argument("--skip", action="append", choices=BENCHES, default=[], help="skip these benches")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per bench")
    parser.add_argument("--out", type=Path, default=Path("var/bench"), help="folder for summary.json and bench.png")
    args = parser.parse_args(argv)
    names = [n for n in available(args.only or BENCHES) if n not in args.skip]
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        print(f"bench {name} ...", file=sys.stderr, flush=True)
        results[name] = run_bench(name, args.timeout)
    summary = {"summary": summarize(results), "benches": results}
    png = args.out / "bench.png"
    summary["chart"] = {"path": str(png), "panels": write_chart(results, png)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
