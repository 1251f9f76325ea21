"""ops/: Prometheus config and alert rules pass promtool, and every alert has a unit test.

promtool comes from Debian's ``prometheus`` package (``.ci/run`` installs it). Without
it these tests skip locally but FAIL when the ``CI`` environment variable is set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import zeikan.ops

OPS = Path(zeikan.ops.__file__).parent
TEST_FILES = ("alerts_test.yml", "alerts_test_days.yml")


def promtool() -> str:
    """Path of promtool, or fail (in CI) / skip (elsewhere) with the way to get it."""
    path = shutil.which("promtool")
    if path:
        return path
    message = "promtool not found on PATH: install Debian's `prometheus` package (apt-get install prometheus)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message + "; set CI=1 to make this a failure")


@pytest.mark.parametrize(
    "args",
    [
        ("check", "config", "prometheus.yml"),
        ("check", "rules", "alerts.yml"),
        ("test", "rules", "alerts_test.yml", "alerts_test_days.yml"),
    ],
    ids=["check-config", "check-rules", "test-rules"],
)
def test_promtool_accepts_ops_files(args: tuple[str, ...]) -> None:
    result = subprocess.run([promtool(), *args], cwd=OPS, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules_catches_a_wrong_expectation(tmp_path: Path) -> None:
    """The promtool run really compares: a wrong expected threshold makes it fail."""
    shutil.copy(OPS / "alerts.yml", tmp_path / "alerts.yml")
    tests = (OPS / "alerts_test.yml").read_text().replace("(PSI 0.4)", "(PSI 0.5)")
    (tmp_path / "alerts_test.yml").write_text(tests)
    result = subprocess.run([promtool(), "test", "rules", "alerts_test.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "ZeikanModelDrift" in result.stdout + result.stderr


def test_every_alert_has_a_firing_unit_test() -> None:
    rules = yaml.safe_load((OPS / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}
    tests = [test for name in TEST_FILES for test in yaml.safe_load((OPS / name).read_text())["tests"]]
    fired = {case["alertname"] for test in tests for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}
    assert alerts - fired == set()
    assert alerts >= {
        "ZeikanConsumerLagGrowing", "ZeikanDeadLetterSpike", "ZeikanNoDecisions", "ZeikanCapacityOvershoot",
        "ZeikanModelDrift", "ZeikanHitRateDrop", "ZeikanImageLatencyHigh",
    }


def test_prometheus_loads_the_alert_rules_and_scrapes_workers() -> None:
    config = yaml.safe_load((OPS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert all(job.get("metrics_path", "/metrics") == "/metrics" for job in jobs.values())
    assert jobs["zeikan"]["static_configs"][0]["targets"] == ["worker-1:6066", "worker-2:6067"]
    assert jobs["zeikan-local"]["file_sd_configs"][0]["files"] == ["targets/*.json"]


def test_missing_promtool_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install prometheus"):
        promtool()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        promtool()


def test_scrape_targets_match_the_compose_workers() -> None:
    compose = yaml.safe_load((OPS.parent / "docker-compose.yml").read_text())
    workers = {
        f"{name}:{service['environment']['ZEIKAN_WEB_PORT']}"
        for name, service in compose["services"].items()
        if service.get("command") == ["worker"]
    }
    config = yaml.safe_load((OPS / "prometheus.yml").read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "zeikan"]
    assert set(job["static_configs"][0]["targets"]) == workers
    mounts = compose["services"]["prometheus"]["volumes"]
    assert "./ops/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts
