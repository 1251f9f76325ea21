"""Settings of the image area, read from the environment at the edge."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from zeikan.images.store import DEFAULT_STORE_URL


@dataclass(frozen=True)
class ImagesSettings:
    """Where images live. ``store_url`` (env ``ZEIKAN_IMAGE_STORE``): a path, file://, memory://, s3://..."""

    store_url: str = DEFAULT_STORE_URL

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ImagesSettings:
        """Settings from the environment (defaults where unset)."""
        return cls(store_url=env.get("ZEIKAN_IMAGE_STORE", DEFAULT_STORE_URL))
