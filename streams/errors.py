"""Errors of the streaming side (broker, Kafka I/O, CLI): each message says what to do."""

from __future__ import annotations

from zeikan.errors import InvalidSetting as InvalidSetting  # re-exported: defined in the root, raised by every layer's settings
from zeikan.errors import ZeikanError


class StreamsError(ZeikanError):
    """Base class of the errors raised by :mod:`zeikan.streams`."""


class BrokerUnreachable(StreamsError):
    """No Kafka broker answered at the bootstrap address."""

    def __init__(self, bootstrap: str, reason: str = "") -> None:
        detail = f" ({reason})" if reason else ""
        super().__init__(
            f"no Kafka broker reachable at {bootstrap}{detail}: start one with "
            f"`zeikan broker` or pass --bootstrap / set ZEIKAN_BOOTSTRAP"
        )


class BrokerStartFailed(StreamsError):
    """The embedded Tansu broker did not start or did not become ready."""

    def __init__(self, reason: str, log_path: str) -> None:
        super().__init__(f"embedded broker failed to start: {reason}; see its log {log_path}")


class InputFileError(StreamsError):
    """An input file is missing or cannot be read."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot read {path}: {reason}")


class InvalidRecords(StreamsError):
    """A file holds records that fail validation; nothing was sent."""

    def __init__(self, path: str, bad: int, total: int) -> None:
        super().__init__(
            f"{path}: {bad} of {total} records are invalid, nothing was published; "
            f"fix them or pass --dead-letter to send them to dead-letters"
        )


class RulesError(StreamsError):
    """An officer rule file cannot be used; the previous rules stay in force."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"rule file {path} rejected: {reason}; fix the file (the previous rules stay active)")


class EngineConfigError(StreamsError):
    """The decision-engine settings file is invalid."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"engine settings {path} invalid: {reason}")


class HistoryError(StreamsError):
    """A history directory for ``zeikan replay`` is missing files or holds invalid events."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"history {path}: {reason}")


class DataDirInUse(StreamsError):
    """Another broker already runs on this data directory (it holds the lock)."""

    def __init__(self, data_dir: str, pid: str) -> None:
        super().__init__(
            f"broker data directory {data_dir} is in use by pid {pid}: stop that broker first "
            f"or pass another --data-dir"
        )


class ObjectStoreError(StreamsError):
    """The local S3 server (rclone) cannot start or its credentials file cannot be used."""

    def __init__(self, reason: str, where: str) -> None:
        super().__init__(f"local S3 server: {reason}; see {where}")
