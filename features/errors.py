"""Errors of the feature pipeline; each message says what to do."""

from __future__ import annotations

from zeikan.errors import ZeikanError


class FeatureError(ZeikanError):
    """Base class of feature errors."""


class HistoryNotFoundError(FeatureError):
    """The history directory or one of its files is missing."""

    def __init__(self, path: str) -> None:
        super().__init__(f"history: {path} not found; pass a directory written by `zeikan simulate --out DIR`")




class TooManyRejectedError(FeatureError):
    """More than the allowed share of a history file's lines break the event contract."""

    def __init__(self, name: str, rejected: int, lines: int, max_share: float, reason: str, count: int,
                 example: str) -> None:
        super().__init__(
            f"history: {rejected} of {lines} lines of {name} rejected (> {max_share:.0%}); "
            f"{count} on field {reason}, e.g. {example}; fix that field in the file"
        )
