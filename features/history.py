"""An event history read from a directory of JSON Lines files (the CLI file contract).

No line is dropped silently: every rejected line is counted by (file, field, error
kind) in :class:`Rejections`; above ``max_rejected_share`` of a file's lines the
reading stops with :class:`TooManyRejectedError`, a one-line message naming the
field most lines failed on (``zeikan train``/``evaluate`` print it and exit 1).
:func:`tally` is the same count over any ``read_jsonl`` iterator (the replay's reader).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import fsspec

from zeikan.features.errors import HistoryNotFoundError, TooManyRejectedError
from zeikan.schemas.contract import DECLARATIONS, INSPECTION_RESULTS
from zeikan.schemas.errors import ValidationError
from zeikan.schemas.jsonl import read_jsonl

DECLARATIONS_FILE = "declarations.jsonl"
INSPECTIONS_FILE = "inspection-results.jsonl"
TRUTH_FILE = "truth.jsonl"
MAX_REJECTED_SHARE = 0.05
"""Share of a file's lines that may be rejected before the reading stops."""
TOP_REASONS = 3
"""Reasons listed in a report."""


@dataclass
class Rejections:
    """Lines read and rejected per file, rejected lines counted by ``file: field (kind)``."""

    lines: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    example: dict[str, str] = field(default_factory=dict)
    """One full error message per reason."""

    def add(self, name: str, error: ValidationError | None) -> None:
        """Count one line of file ``name`` (``error`` when it was rejected)."""
        self.lines[name] += 1
        if error is None:
            return
        self.rejected[name] += 1
        reason = f"{name}: {error.field or '(line)'} ({error.kind})"
        self.reasons[reason] += 1
        self.example.setdefault(reason, str(error))

    @property
    def total(self) -> int:
        """Rejected lines in all files."""
        return sum(self.rejected.values())

    def top(self, n: int = TOP_REASONS) -> list[dict[str, Any]]:
        """The most frequent reasons: ``{"reason", "lines", "example"}``."""
        return [{"reason": r, "lines": c, "example": self.example[r]} for r, c in self.reasons.most_common(n)]

    def report(self) -> dict[str, Any]:
        """What a batch command prints: lines read and rejected per file, the top reasons."""
        return {"lines": dict(self.lines), "rejected": dict(self.rejected), "top_reasons": self.top()}

    def check(self, name: str, max_share: float = MAX_REJECTED_SHARE) -> None:
        """Raise TooManyRejectedError when more than ``max_share`` of file ``name``'s lines were rejected."""
        lines, rejected = self.lines[name], self.rejected[name]
        if lines and rejected / lines > max_share:
            mine = [(r, c) for r, c in self.reasons.most_common() if r.startswith(f"{name}: ")]
            reason, count = mine[0]
            raise TooManyRejectedError(name, rejected, lines, max_share, reason.removeprefix(f"{name}: "), count,
                                       self.example[reason])


def tally(rows: Iterable[tuple[int, Any]], name: str, rejections: Rejections) -> list[dict[str, Any]]:
    """The valid records of a ``read_jsonl`` iterator; every rejected line counted under ``name``."""
    records = []
    for _, rec in rows:
        if isinstance(rec, ValidationError):
            rejections.add(name, rec)
        else:
            rejections.add(name, None)
            records.append(rec)
    return records


@dataclass(frozen=True)
class History:
    """Declarations and inspection results (valid records only; bad lines are counted, not used)."""

    declarations: list[dict[str, Any]]
    inspections: list[dict[str, Any]]
    data_hash: str
    rejections: Rejections = field(default_factory=Rejections)
    truth: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def skipped_lines(self) -> int:
        """Rejected lines in all files."""
        return self.rejections.total


def _join(root: str, name: str) -> str:
    return f"{root.rstrip('/')}/{name}"


def _valid_records(root: str, name: str, topic: str, digest: Any, rejections: Rejections,
                   max_share: float) -> list[dict[str, Any]]:
    path = _join(root, name)
    fs, fs_path = fsspec.core.url_to_fs(path)
    if not fs.exists(fs_path):
        raise HistoryNotFoundError(path)
    with fs.open(fs_path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    records = tally(read_jsonl(path, topic), name, rejections)
    rejections.check(name, max_share)
    return records


def read_truth(root: str) -> dict[str, dict[str, Any]]:
    """The simulator's hidden truth per declaration_id (evaluation only, never training)."""
    path = _join(root, TRUTH_FILE)
    fs, fs_path = fsspec.core.url_to_fs(path)
    if not fs.exists(fs_path):
        raise HistoryNotFoundError(path)
    with fs.open(fs_path, "rt", encoding="utf-8") as handle:
        rows = (json.loads(line) for line in handle if line.strip())
        return {row["declaration_id"]: row for row in rows}


def load_history(root: str, *, with_truth: bool = False, max_rejected_share: float = MAX_REJECTED_SHARE) -> History:
    """Read ``declarations.jsonl`` and ``inspection-results.jsonl`` (and ``truth.jsonl`` if asked) under root.

    Raises TooManyRejectedError when a file has more than ``max_rejected_share`` of its lines rejected.
    """
    fs, fs_root = fsspec.core.url_to_fs(root)
    if not fs.isdir(fs_root):
        raise HistoryNotFoundError(root)
    digest = hashlib.sha256()
    rejections = Rejections()
    decls = _valid_records(root, DECLARATIONS_FILE, DECLARATIONS.name, digest, rejections, max_rejected_share)
    insps = _valid_records(root, INSPECTIONS_FILE, INSPECTION_RESULTS.name, digest, rejections, max_rejected_share)
    truth = read_truth(root) if with_truth else {}
    return History(decls, insps, digest.hexdigest(), rejections, truth)
