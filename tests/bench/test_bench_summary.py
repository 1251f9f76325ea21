"""make bench's summary: JSON lines collected per bench, ratios, chart (no bench is run here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zeikan.bench.__main__ import BENCHES, available, chart_values, json_lines, main, summarize, write_chart

RESULTS = {
    "pipeline": {"figures": [{"pipeline_decl_per_s": 3000.0, "noop_faust_events_per_s": 4000.0, "p50_ms": 4.0, "p99_ms": 30.0}]},
    "relay": {
        "figures": [
            {"bench": "relay.faust-noopx1-backlog", "engine": "faust-noop", "workers": 1, "mode": "backlog", "events_per_s": 6000.0, "rss_mb_per_worker": [80.0]},
            {"bench": "relay.quix-relayx1-backlog", "engine": "quix-relay", "workers": 1, "mode": "backlog", "events_per_s": 12000.0},
            {"bench": "relay.faust-noopx1-live", "engine": "faust-noop", "workers": 1, "mode": "live", "events_per_s": 5000.0},
            {"bench": "relay.faust-noopx2-live", "engine": "faust-noop", "workers": 2, "mode": "live", "events_per_s": 9000.0, "rss_mb_per_worker": [81.0, 85.0]},
        ]
    },
    "images": {"figures": [], "error": "exit 1: boom"},
    "scaling": {"figures": [{"bench": "scaling", "pipeline_2_vs_1_workers": 1.6}]},
    "model": {"figures": [
        {"bench": "model_quality", "declarations": 30000, "risk_model_auc": 0.81, "risk_model_precision_at_1%": 0.6,
         "risk_model_precision_at_5%": 0.42, "raw_baseline_precision_at_5%": 0.21, "oracle_precision_at_5%": 0.6,
         "p5_ratio_to_oracle": 0.7, "p5_ratio_to_baseline": 2.0, "evaluate_seconds": 9.0},
        {"bench": "model", "scored_per_s_batch_1000": 90000.0},
    ]},
    "serving": {"figures": [{"bench": "serving", "stream_lgbm_decl_per_s": 2000.0, "stream_lgbm_ratio_to_noop": 0.4,
                             "stream_lgbm_to_heuristic": 0.9}]},
}  # fmt: skip


def test_json_lines_keeps_only_json_objects() -> None:
    text = 'starting\n{"bench": "a", "x_per_s": 1}\n[1, 2]\n{broken\n  {"y": 2}  \n'
    assert json_lines(text) == [{"bench": "a", "x_per_s": 1}, {"y": 2}]


def test_summary_ratios_come_from_the_same_run() -> None:
    summary = summarize(RESULTS)
    assert summary["pipeline_per_s"] == 3000.0
    assert summary["ratios"]["pipeline_vs_faust_noop"] == 0.5
    assert summary["ratios"]["pipeline_vs_quix_relay"] == 0.25
    assert summary["ratios"]["pipeline_2_vs_1_workers"] == 1.6
    assert summary["ratios"]["pipeline_vs_its_own_faust_noop"] == 0.75
    assert summary["ratios"]["faust_noop_2_vs_1_workers"] == 1.8
    assert summary["ratios"]["quix_relay_2_vs_1_workers"] is None
    assert summary["errors"] == {"images": "exit 1: boom"}
    assert summary["pipeline"] == {
        "pipeline: pipeline_decl_per_s": 3000.0, "pipeline: noop_faust_events_per_s": 4000.0,
        "pipeline: p50_ms": 4.0, "pipeline: p99_ms": 30.0,
    }  # fmt: skip
    assert summary["relay_rss_mb_per_worker"] == {"faust-noopx1-backlog": [80.0], "faust-noopx2-live": [81.0, 85.0]}
    assert summary["ratios"]["serving_lgbm_vs_faust_noop"] == 0.4
    assert summary["ratios"]["serving_lgbm_vs_heuristic"] == 0.9
    assert summary["serving"] == {"serving: stream_lgbm_decl_per_s": 2000.0}


def test_summary_carries_the_model_quality_back_test() -> None:
    assert summarize(RESULTS)["model_quality"] == {
        "risk_model_auc": 0.81, "risk_model_precision_at_5%": 0.42, "raw_baseline_precision_at_5%": 0.21,
        "oracle_precision_at_5%": 0.6, "p5_ratio_to_oracle": 0.7, "p5_ratio_to_baseline": 2.0,
    }  # fmt: skip
    assert summarize({})["model_quality"] == {}


def test_serving_is_one_of_the_benches() -> None:
    assert "serving" in BENCHES and available(["serving"]) == ["serving"]


def test_chart_collects_throughput_latency_and_memory(tmp_path: Path) -> None:
    assert chart_values(RESULTS, r"per_s")["relay.faust-noopx2-live: events_per_s"] == 9000.0
    assert chart_values(RESULTS, r"rss")["relay.faust-noopx2-live: rss_mb_per_worker (max)"] == 85.0
    png = tmp_path / "bench.png"
    assert write_chart(RESULTS, png) == ["throughput (per s, log)", "latency (ms)", "memory per process (MB)"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_lines_sharing_a_tag_are_told_apart_by_their_text_fields() -> None:
    results = {"publish": {"figures": [
        {"bench": "publish.send", "client": "kafka-python", "records_per_s": 1.0},
        {"bench": "publish.send", "client": "aiokafka", "records_per_s": 2.0},
        {"records_per_s": 3.0},
    ]}}  # fmt: skip
    assert chart_values(results, "per_s") == {
        "publish.send[kafka-python]: records_per_s": 1.0,
        "publish.send[aiokafka]: records_per_s": 2.0,
        "publish: records_per_s": 3.0,
    }


def test_unknown_benches_are_skipped() -> None:
    assert available(["relay", "no_such_bench"]) == ["relay"]


def test_main_writes_summary_and_chart_with_no_bench(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = main(["--only", "relay", "--skip", "relay", "--out", str(tmp_path)])
    assert summary["benches"] == {}
    assert (tmp_path / "summary.json").exists()
    assert '"summary"' in capsys.readouterr().out
