"""The root of every error zeikan raises on purpose.

Each subpackage has its own ``errors.py`` whose classes derive from
:class:`ZeikanError`; the CLI turns any of them into one line and a non-zero exit.
"""


class ZeikanError(Exception):
    """Base class of all zeikan errors: the message says what went wrong and what to do."""


class InvalidSetting(ZeikanError):
    """A setting (flag or environment variable) has a value it cannot take."""

    def __init__(self, name: str, value: object, expected: str) -> None:
        super().__init__(f"setting {name}={value!r} is invalid: expected {expected}")
