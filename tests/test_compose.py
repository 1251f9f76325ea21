"""docker-compose.yml agrees with the code: bootstrap, ports, settings names, CLI commands, mounts."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import click
import pytest
import typer
import yaml

from zeikan.cli import main as cli
from zeikan.streams.kafka.kafka_config import DEFAULT_PORT, KafkaSettings
from zeikan.streams.settings import LearningSettings, WorkerSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
ZEIKAN_SERVICES = [name for name, spec in SERVICES.items() if spec.get("image") == "zeikan:latest"]
WORKERS = [name for name in ZEIKAN_SERVICES if SERVICES[name]["command"][0] == "worker"]


def kafka_listeners(variable: str) -> dict[str, str]:
    """``NAME://host:port,...`` of the kafka service -> {NAME: "host:port"}."""
    value = SERVICES["kafka"]["environment"][variable]
    return dict(item.split("://", 1) for item in value.split(","))


def test_the_stack_has_kafka_init_two_workers_prometheus_and_grafana() -> None:
    assert set(SERVICES) == {"kafka", "topic-init", "worker-1", "worker-2", "prometheus", "grafana"}
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert WORKERS == ["worker-1", "worker-2"]


def test_host_clients_reach_kafka_at_the_default_bootstrap() -> None:
    assert kafka_listeners("KAFKA_ADVERTISED_LISTENERS")["HOST"] == KafkaSettings().bootstrap
    assert kafka_listeners("KAFKA_LISTENERS")["HOST"].endswith(f":{DEFAULT_PORT}")
    assert f"{DEFAULT_PORT}:{DEFAULT_PORT}" in SERVICES["kafka"]["ports"]


def test_containers_use_the_internal_listener_with_default_layout() -> None:
    internal = kafka_listeners("KAFKA_ADVERTISED_LISTENERS")["DOCKER"]
    assert internal == "kafka:19092"
    assert SERVICES["kafka"]["environment"]["KAFKA_INTER_BROKER_LISTENER_NAME"] == "DOCKER"
    for name in ZEIKAN_SERVICES:
        env = SERVICES[name]["environment"]
        settings = KafkaSettings.from_env(env=env)
        assert settings.bootstrap == internal, name
        assert settings.partitions == KafkaSettings().partitions, name
    assert SERVICES["kafka"]["environment"]["KAFKA_NUM_PARTITIONS"] == str(KafkaSettings().partitions)


def test_zeikan_services_set_only_known_settings() -> None:
    known = {*KafkaSettings.ENV.values(), *WorkerSettings.ENV.values(), *LearningSettings.ENV.values()}
    for name in ZEIKAN_SERVICES:
        assert set(SERVICES[name]["environment"]) <= known, name


@pytest.mark.parametrize("service", ["topic-init", "worker-1", "worker-2"])
def test_service_commands_parse_with_the_cli(service: str) -> None:
    group = typer.main.get_command(cli.app)
    name, *args = SERVICES[service]["command"]
    with click.Context(group) as parent:
        command = group.get_command(parent, name)
        assert command is not None, f"zeikan has no command {name!r}"
        command.make_context(name, list(args), parent=parent)  # raises on unknown options


def test_topic_init_runs_before_the_workers_and_creates_topics() -> None:
    assert SERVICES["topic-init"]["command"] == ["topics", "--create"]
    assert SERVICES["topic-init"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for worker in WORKERS:
        condition = SERVICES[worker]["depends_on"]["topic-init"]["condition"]
        assert condition == "service_completed_successfully"


def test_worker_web_ports_are_published_and_scraped_by_prometheus() -> None:
    prometheus = yaml.safe_load((ROOT / "ops" / "prometheus.yml").read_text())
    [job] = [job for job in prometheus["scrape_configs"] if job["job_name"] == "zeikan"]
    scraped = set(job["static_configs"][0]["targets"])
    published = set()
    for worker in WORKERS:
        settings = WorkerSettings.from_env(env=SERVICES[worker]["environment"])
        assert settings.web_host == "0.0.0.0", worker
        assert f"{settings.web_port}:{settings.web_port}" in SERVICES[worker]["ports"]
        published.add(f"{worker}:{settings.web_port}")
    assert published == scraped == {"worker-1:6066", "worker-2:6067"}
    assert len({SERVICES[w]["environment"]["ZEIKAN_APP_ID"] for w in WORKERS}) == 1, "one group"


def test_every_mounted_file_exists_in_the_repository() -> None:
    for name, spec in SERVICES.items():
        for volume in spec.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_pyproject_lists_every_subpackage_so_the_image_install_has_them() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set()
    for package, folder in setuptools["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *parts)))
    assert found <= set(setuptools["packages"]), "add these to [tool.setuptools] packages"


def test_dockerfile_runs_the_zeikan_cli_and_exposes_the_worker_ports() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r'^ENTRYPOINT \["zeikan"\]$', dockerfile, re.M)
    assert re.search(r"^EXPOSE 6066 6067$", dockerfile, re.M)
    copied = set(re.findall(r"^COPY (\w+)/ ", dockerfile, re.M))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = set(pyproject["tool"]["setuptools"]["package-dir"].values())
    assert copied == packages, "every package folder of pyproject.toml is in the image"


def test_the_workers_learn_continuously() -> None:
    assert all(LearningSettings.from_env(SERVICES[name]["environment"]).enabled for name in WORKERS)
