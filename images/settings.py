"""Settings of the image area, read from the environment at the edge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zeikan.env_settings import settings_from_env
from zeikan.images.store import DEFAULT_STORE_URL


@dataclass(frozen=True)
class ImagesSettings:
    """Where images live. ``store_url`` (env ``ZEIKAN_IMAGE_STORE``): a path, file://, memory://, s3://..."""

    store_url: str = DEFAULT_STORE_URL

    ENV = {"store_url": "ZEIKAN_IMAGE_STORE"}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ImagesSettings:
        """Settings from the environment (defaults where unset)."""
        return settings_from_env(cls, env, {})
