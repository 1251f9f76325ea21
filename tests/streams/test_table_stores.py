"""The join tables' local stores: a store that cannot be trusted is removed before the worker starts (real RocksDB files)."""

from __future__ import annotations

from pathlib import Path

from rocksdict import Rdict

from zeikan.streams.table_stores import OFFSET_KEY, local_stores, repair


def _store(path: Path, offset: int | None) -> Path:
    db = Rdict(str(path))
    db[b"key"] = b"value"
    if offset is not None:
        db[OFFSET_KEY] = str(offset).encode()
    db.close()
    return path


def test_stores_past_their_changelog_end_or_unreadable_are_removed_and_the_others_kept(tmp_path: Path) -> None:
    kept = _store(tmp_path / "join-containers-0.db", 41)
    fresh = _store(tmp_path / "join-containers-1.db", None)
    ahead = _store(tmp_path / "join-declarations-0.db", 42)
    torn = _store(tmp_path / "join-declarations-1.db", 3)
    for name in ("CURRENT",):
        (torn / name).write_bytes(b"\x00garbage")
    _store(tmp_path / "other-0.db", 99)
    ends = {("join-containers", 0): 42, ("join-containers", 1): 0, ("join-declarations", 0): 42, ("join-declarations", 1): 10}
    removed = repair(tmp_path, ["join-containers", "join-declarations"], ends)
    assert sorted((r.table, r.partition) for r in removed) == [("join-declarations", 0), ("join-declarations", 1)]
    assert "past the changelog's end 42" in next(r.problem for r in removed if r.partition == 0)
    assert "unreadable" in next(r.problem for r in removed if r.partition == 1)
    assert kept.exists() and fresh.exists() and not ahead.exists() and not torn.exists()
    assert [(t, p) for t, p, _ in local_stores(tmp_path, ["join-containers", "join-declarations"])] == [
        ("join-containers", 0), ("join-containers", 1),
    ]
    assert (tmp_path / "other-0.db").exists(), "stores of other tables are not touched"
