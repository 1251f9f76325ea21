"""Errors of model training, the registry and evaluation; each message says what to do."""

from __future__ import annotations

from zeikan.errors import ZeikanError


class ModelError(ZeikanError):
    """Base class of model errors."""


class NotEnoughLabelsError(ModelError):
    """Too few positive inspection results to learn from."""

    def __init__(self, positives: int, needed: int) -> None:
        super().__init__(
            f"train: {positives} inspection results with a finding (need >= {needed}); "
            "simulate more days or feed more inspection results"
        )


class ModelNotFoundError(ModelError):
    """A model version is not in the registry."""

    def __init__(self, version: str, registry: str) -> None:
        super().__init__(f"registry: no model {version!r} in {registry}; see `zeikan models ls --registry {registry}`")


class NoLiveModelError(ModelError):
    """The registry has no promoted model yet."""

    def __init__(self, registry: str) -> None:
        super().__init__(f"registry: no live model in {registry}; run `zeikan train --history DIR` first")
