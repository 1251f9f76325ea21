"""Settings of ``zeikan broker``, read once at the edge (flags first, then environment).

>>> BrokerSettings.from_env(env={}).storage
'durable'
>>> BrokerSettings.from_env(env={"ZEIKAN_BROKER_STORAGE": "memory"}, port=0)
BrokerSettings(storage='memory', data_dir='var/broker', host='127.0.0.1', port=0, s3_port=9094)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zeikan.streams.kafka.broker import DEFAULT_DATA_DIR, STORAGES
from zeikan.env_settings import settings_from_env
from zeikan.streams.errors import InvalidSetting
from zeikan.streams.kafka.kafka_config import DEFAULT_HOST, DEFAULT_PORT

DEFAULT_S3_PORT = 9094


@dataclass(frozen=True)
class BrokerSettings:
    """Where the embedded broker listens and keeps its topics (each field has one ``ENV`` name)."""

    storage: str = "durable"
    """``durable`` (local S3 server on ``data_dir``) or ``memory`` (``ZEIKAN_BROKER_STORAGE``)."""
    data_dir: str = DEFAULT_DATA_DIR
    """Durable storage folder: objects, credentials, lock, logs (``ZEIKAN_BROKER_DIR``)."""
    host: str = DEFAULT_HOST
    """Address the broker and its S3 server listen on and advertise (``ZEIKAN_BROKER_HOST``)."""
    port: int = DEFAULT_PORT
    """Kafka port; 0 picks a free one (``ZEIKAN_BROKER_PORT``)."""
    s3_port: int = DEFAULT_S3_PORT
    """Port of the local S3 server (durable only); 0 picks a free one (``ZEIKAN_S3_PORT``)."""

    ENV = {
        "storage": "ZEIKAN_BROKER_STORAGE",
        "data_dir": "ZEIKAN_BROKER_DIR",
        "host": "ZEIKAN_BROKER_HOST",
        "port": "ZEIKAN_BROKER_PORT",
        "s3_port": "ZEIKAN_S3_PORT",
    }

    def __post_init__(self) -> None:
        if self.storage not in STORAGES:
            raise InvalidSetting("storage", self.storage, " or ".join(STORAGES))
        for name in ("port", "s3_port"):
            if not 0 <= getattr(self, name) <= 65535:
                raise InvalidSetting(name, getattr(self, name), "a port number 0..65535")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: str | int | None) -> BrokerSettings:
        """Build settings from flags (``None`` = not given), then ``env``, then defaults."""
        return settings_from_env(cls, env, flags)
