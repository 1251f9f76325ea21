"""The join tables' local RocksDB stores, checked before the worker starts.

Faust keeps each table partition in ``<tabledir>/<table>-<partition>.db`` with the
changelog offset it holds (so a restart reads only the changelog's tail). A store that
cannot be trusted is removed, and Faust rebuilds that partition from its changelog:

* it cannot be opened (torn or corrupted files);
* its persisted offset is at or past the changelog's end (the broker lost records the
  store already holds, e.g. an in-memory broker restarted; Faust would refuse to start
  with "persisted offset higher than highwater").

Changelog ends are read from fetch high watermarks (:func:`~zeikan.streams.kafka.kafka_io.end_offsets`),
not from Tansu's ListOffsets, which undercounts batched writes.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

OFFSET_KEY = b"__faust\0offset__"
"""Where Faust's RocksDB store keeps the changelog offset of a partition."""


@dataclass(frozen=True)
class StoreCheck:
    """One table partition's local store and what was found."""

    table: str
    partition: int
    path: Path
    persisted: int | None
    problem: str | None


def local_stores(tabledir: Path, tables: Sequence[str]) -> list[tuple[str, int, Path]]:
    """(table, partition, path) of every local store of ``tables`` under ``tabledir``."""
    found = []
    for table in tables:
        pattern = re.compile(rf"{re.escape(table)}-(\d+)\.db$")
        for path in sorted(tabledir.glob(f"{table}-*.db")) if tabledir.is_dir() else ():
            if match := pattern.match(path.name):
                found.append((table, int(match.group(1)), path))
    return found


def persisted_offset(path: Path) -> int | None:
    """The changelog offset a store holds (None: none yet); raises on a store that cannot be opened."""
    from rocksdict import AccessType, Rdict

    db = Rdict(str(path), access_type=AccessType.read_only())
    try:
        raw = db.get(OFFSET_KEY)
    finally:
        db.close()
    return int(raw) if raw is not None else None


def check(path: Path, table: str, partition: int, changelog_end: int) -> StoreCheck:
    """Whether the store at ``path`` can be trusted against its changelog's end offset."""
    try:
        persisted = persisted_offset(path)
    except Exception as exc:  # noqa: BLE001 - any failure to open means: rebuild from the changelog
        return StoreCheck(table, partition, path, None, f"unreadable ({type(exc).__name__}: {exc})")
    if persisted is not None and persisted >= changelog_end:
        return StoreCheck(table, partition, path, persisted, f"persisted offset {persisted} is past the changelog's end {changelog_end}")
    return StoreCheck(table, partition, path, persisted, None)


def repair(tabledir: Path, tables: Sequence[str], changelog_ends: Mapping[tuple[str, int], int]) -> list[StoreCheck]:
    """Remove every local store that cannot be trusted (see the module docstring); the ones removed."""
    removed = []
    for table, partition, path in local_stores(tabledir, tables):
        found = check(path, table, partition, changelog_ends.get((table, partition), 0))
        if found.problem is not None:
            log.warning("table store %s removed, rebuilt from its changelog: %s", path.name, found.problem)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(found)
    return removed


def repair_before_start(tabledir: Path, app_id: str, tables: Sequence[str], bootstrap: str) -> list[StoreCheck]:
    """:func:`repair` against the changelog ends on the broker at ``bootstrap``."""
    from kafka import KafkaConsumer, TopicPartition

    from zeikan.streams.kafka.kafka_io import end_offsets

    stores = local_stores(tabledir, tables)
    if not stores:
        return []
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        topics = consumer.topics()
        tps = {(t, p): TopicPartition(f"{app_id}-{t}-changelog", p) for t, p, _ in stores}
        known = [tp for tp in tps.values() if tp.topic in topics]
        ends = end_offsets(consumer, known) if known else {}
    finally:
        consumer.close()
    return repair(tabledir, tables, {key: ends.get(tp, 0) for key, tp in tps.items()})
