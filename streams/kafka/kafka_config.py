"""Kafka connection settings, read once at the edge (flags first, then environment).

>>> KafkaSettings.from_env(env={}).bootstrap
'127.0.0.1:9092'
>>> KafkaSettings.from_env(env={"ZEIKAN_PARTITIONS": "4"}, bootstrap="kafka:19092")
KafkaSettings(bootstrap='kafka:19092', partitions=4, replication=1)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zeikan.child_process import LOOPBACK
from zeikan.env_settings import settings_from_env
from zeikan.streams.errors import InvalidSetting

DEFAULT_HOST = LOOPBACK
DEFAULT_PORT = 9092
DEFAULT_BOOTSTRAP = f"{DEFAULT_HOST}:{DEFAULT_PORT}"


@dataclass(frozen=True)
class KafkaSettings:
    """Where the brokers are and how topics are laid out.

    Records travel in Avro single-object framing, everywhere (workers, CLI, web app):
    Confluent framing needs a schema id per subject from a schema registry, which
    zeikan does not run (the codec can still read and write it, given an id).

    Each field maps to one environment variable (``ENV`` below); a flag given on the
    command line wins over the environment, which wins over the default.
    """

    bootstrap: str = DEFAULT_BOOTSTRAP
    """Comma-separated ``host:port`` list of brokers (``ZEIKAN_BOOTSTRAP``)."""
    partitions: int = 8
    """Partitions of each topic zeikan creates (``ZEIKAN_PARTITIONS``)."""
    replication: int = 1
    """Replication factor of each topic zeikan creates (``ZEIKAN_REPLICATION``)."""

    ENV = {
        "bootstrap": "ZEIKAN_BOOTSTRAP",
        "partitions": "ZEIKAN_PARTITIONS",
        "replication": "ZEIKAN_REPLICATION",
    }

    def __post_init__(self) -> None:
        if not self.bootstrap.strip():
            raise InvalidSetting("bootstrap", self.bootstrap, "a host:port list")
        if self.partitions < 1:
            raise InvalidSetting("partitions", self.partitions, "an integer >= 1")
        if self.replication < 1:
            raise InvalidSetting("replication", self.replication, "an integer >= 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: str | int | None) -> KafkaSettings:
        """Build settings from flags (``None`` = not given), then ``env``, then defaults."""
        return settings_from_env(cls, env, flags)
