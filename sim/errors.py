"""Errors of the simulator (bad settings); each message says what to change."""

from __future__ import annotations

from zeikan.errors import ZeikanError


class SimError(ZeikanError):
    """Base class of simulator errors."""


class SimSettingError(SimError):
    """A simulation setting is out of range."""

    def __init__(self, name: str, value: object, allowed: str) -> None:
        super().__init__(f"simulate: {name}={value!r} is out of range; use {allowed}")


class SimTooLargeError(SimError):
    """A day needs more distinct container ids than the id scheme provides."""

    def __init__(self, needed: int, capacity: int) -> None:
        super().__init__(
            f"simulate: one day needs {needed} containers but at most {capacity} fit the id scheme; lower --per-day"
        )

