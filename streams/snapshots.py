"""Snapshots of the shared state in a store chosen by URL (a local folder by default, ``s3://…``).

A snapshot is named by the facts-log offset it covers (every fact before it is folded
in), so a restarted worker loads the newest one and replays only the log's tail. A
snapshot that cannot be read (truncated, wrong checksum, other format) is skipped for
the next older one; with none left the worker folds the log from its start. Writes go
to a temporary name first and are then moved, so a crash never leaves half a snapshot
under a real name. The newest ``keep`` are kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator

import fsspec

log = logging.getLogger(__name__)

_NAME = re.compile(r"snap-(\d{20})\.bin$")


class SnapshotStore:
    """Snapshots under ``url`` (any fsspec URL or a local path)."""

    def __init__(self, url: str, keep: int = 3) -> None:
        self.url = url.rstrip("/")
        self.keep = keep
        self._fs, self._root = fsspec.core.url_to_fs(self.url)
        self._fs.makedirs(self._root, exist_ok=True)

    def _path(self, offset: int) -> str:
        return f"{self._root}/snap-{offset:020d}.bin"

    def offsets(self) -> list[int]:
        """Offsets of the snapshots present, newest first."""
        names = (str(p).rsplit("/", 1)[-1] for p in self._fs.ls(self._root, detail=False))
        return sorted((int(m.group(1)) for n in names if (m := _NAME.match(n))), reverse=True)

    def save(self, offset: int, data: bytes) -> None:
        """Write the snapshot covering the log before ``offset``; older ones beyond ``keep`` are removed."""
        final = self._path(offset)
        temporary = f"{final}.tmp"
        with self._fs.open(temporary, "wb") as out:
            out.write(data)
        self._fs.mv(temporary, final)
        for old in self.offsets()[self.keep:]:
            self._fs.rm(self._path(old))

    def candidates(self) -> Iterator[tuple[int, bytes]]:
        """(offset, bytes) of each snapshot, newest first (unreadable files are skipped)."""
        for offset in self.offsets():
            try:
                with self._fs.open(self._path(offset), "rb") as src:
                    yield offset, src.read()
            except OSError as exc:
                log.warning("snapshot %s unreadable: %s", self._path(offset), exc)

    def load(self, restore: Callable[[bytes], None]) -> int:
        """Restore the newest snapshot that ``restore`` accepts; the offset it covers (0 with none)."""
        for offset, data in self.candidates():
            try:
                restore(data)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("snapshot at offset %d refused (%s): trying an older one", offset, exc)
                continue
            log.info("shared state restored from the snapshot at facts offset %d", offset)
            return offset
        return 0
