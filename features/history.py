"""An event history read from a directory of JSON Lines files (the CLI file contract)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import fsspec

from zeikan.features.errors import HistoryNotFoundError
from zeikan.schemas.contract import DECLARATIONS, INSPECTION_RESULTS
from zeikan.schemas.jsonl import read_jsonl

DECLARATIONS_FILE = "declarations.jsonl"
INSPECTIONS_FILE = "inspection-results.jsonl"
TRUTH_FILE = "truth.jsonl"


@dataclass(frozen=True)
class History:
    """Declarations and inspection results (valid records only; bad lines are counted, not used)."""

    declarations: list[dict[str, Any]]
    inspections: list[dict[str, Any]]
    data_hash: str
    skipped_lines: int = 0
    truth: dict[str, dict[str, Any]] = field(default_factory=dict)


def _join(root: str, name: str) -> str:
    return f"{root.rstrip('/')}/{name}"


def _valid_records(path: str, topic: str, digest: Any) -> tuple[list[dict[str, Any]], int]:
    fs, fs_path = fsspec.core.url_to_fs(path)
    if not fs.exists(fs_path):
        raise HistoryNotFoundError(path)
    with fs.open(fs_path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    records, bad = [], 0
    for _, rec in read_jsonl(path, topic):
        if isinstance(rec, dict):
            records.append(rec)
        else:
            bad += 1
    return records, bad


def read_truth(root: str) -> dict[str, dict[str, Any]]:
    """The simulator's hidden truth per declaration_id (evaluation only, never training)."""
    path = _join(root, TRUTH_FILE)
    fs, fs_path = fsspec.core.url_to_fs(path)
    if not fs.exists(fs_path):
        raise HistoryNotFoundError(path)
    with fs.open(fs_path, "rt", encoding="utf-8") as handle:
        rows = (json.loads(line) for line in handle if line.strip())
        return {row["declaration_id"]: row for row in rows}


def load_history(root: str, *, with_truth: bool = False) -> History:
    """Read ``declarations.jsonl`` and ``inspection-results.jsonl`` (and ``truth.jsonl`` if asked) under root."""
    fs, fs_root = fsspec.core.url_to_fs(root)
    if not fs.isdir(fs_root):
        raise HistoryNotFoundError(root)
    digest = hashlib.sha256()
    decls, bad_d = _valid_records(_join(root, DECLARATIONS_FILE), DECLARATIONS.name, digest)
    insps, bad_i = _valid_records(_join(root, INSPECTIONS_FILE), INSPECTION_RESULTS.name, digest)
    truth = read_truth(root) if with_truth else {}
    return History(decls, insps, digest.hexdigest(), bad_d + bad_i, truth)
