"""Worker health: liveness and readiness (partitions assigned, tables recovered, model loaded)."""

from __future__ import annotations

import time

from zeikan.streams.observability.health import WorkerHealth


def ready_worker() -> WorkerHealth:
    health = WorkerHealth(required_models=("tabular", "image"))
    health.on_rebalance_started()
    health.on_assigned(4)
    health.on_recovered()
    health.on_model_loaded("tabular", "lgbm-3")
    health.on_model_loaded("image", "cnn-1")
    return health


def test_a_fresh_worker_is_live_but_not_ready() -> None:
    report = WorkerHealth().report()
    assert report.live and not report.ready
    assert report.checks == {"partitions_assigned": False, "tables_recovered": False, "model_loaded": False}


def test_ready_once_assigned_recovered_and_models_loaded() -> None:
    report = ready_worker().report()
    assert report.ready
    assert report.to_json()["models"] == {"tabular": "lgbm-3", "image": "cnn-1"}
    assert report.to_json()["assigned_partitions"] == 4


def test_each_missing_condition_makes_it_not_ready() -> None:
    missing_model = WorkerHealth(required_models=("tabular", "image"))
    missing_model.on_assigned(1)
    missing_model.on_recovered()
    missing_model.on_model_loaded("tabular", "v1")
    assert missing_model.report().checks == {"partitions_assigned": True, "tables_recovered": True, "model_loaded": False}

    rebalancing = ready_worker()
    rebalancing.on_rebalance_started()
    assert not rebalancing.report().ready
    assert rebalancing.report().checks["partitions_assigned"] is False
    assert rebalancing.report().checks["tables_recovered"] is False
    rebalancing.on_assigned(2)
    assert not rebalancing.report().ready
    rebalancing.on_recovered()
    assert rebalancing.report().ready


def test_an_empty_assignment_still_counts_as_assigned() -> None:
    """More workers than partitions: an idle worker is ready (it holds standby duty)."""
    health = WorkerHealth(required_models=())
    health.on_assigned(0)
    health.on_recovered()
    assert health.report().ready


def test_a_failed_worker_is_neither_live_nor_ready() -> None:
    health = ready_worker()
    health.on_failed("decision agent crashed: boom")
    report = health.report()
    assert not report.live and not report.ready
    assert report.to_json()["failure"] == "decision agent crashed: boom"


def test_a_rebalance_that_never_completes_makes_the_worker_not_live() -> None:
    health = WorkerHealth(rebalance_limit_s=0.05)
    health.on_assigned(8)
    health.on_recovered()
    health.on_model_loaded("tabular", "m")
    health.on_rebalance_started()
    assert health.report().live and not health.report().ready
    time.sleep(0.1)
    assert not health.report().live
    health.on_assigned(8)
    assert health.report().live


def test_pipeline_checks_join_the_readiness() -> None:
    health = WorkerHealth()
    health.on_assigned(8)
    health.on_recovered()
    health.on_model_loaded("tabular", "m")
    health.extra_checks = lambda: {"state_caught_up": False}
    report = health.report()
    assert not report.ready and report.checks["state_caught_up"] is False
