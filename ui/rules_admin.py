"""Editing the workers' officer rule file from the web: parsed before it is written, every change versioned.

A text that :func:`~zeikan.streams.engine.rules.parse_rules` refuses is never written, so
the workers keep the old rules. An accepted text is first kept as the next numbered version
under ``<data_dir>/rules/`` with who saved it, then replaces the rule file atomically; the
workers' :class:`~zeikan.streams.engine.rules.RuleFile` hot-reloads it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zeikan.streams.engine.rules import RuleBook, parse_rules
from zeikan.streams.errors import RulesError
from zeikan.ui.errors import UiError

MAX_RULES_BYTES = 256 * 1024


@dataclass(frozen=True)
class RuleVersion:
    """One saved version of the rule file."""

    number: int
    officer: str
    at: int
    book_version: str
    rules: int


class RulesAdmin:
    """The rule file at ``path`` with its version history in ``history_dir``."""

    def __init__(self, path: Path | None, history_dir: Path) -> None:
        self.path = path
        self.history_dir = history_dir

    def text(self) -> str:
        """The rule file as it is now (empty when no rule file is configured or it does not exist)."""
        if self.path is None or not self.path.exists():
            return ""
        return self.path.read_text()

    def book(self) -> RuleBook | None:
        """The rules as the workers read them now (None when the file is missing or unreadable)."""
        try:
            return parse_rules(self.text(), str(self.path)) if self.text() else None
        except RulesError:
            return None

    def versions(self) -> list[RuleVersion]:
        """Saved versions, newest first."""
        log = self.history_dir / "versions.jsonl"
        if not log.exists():
            return []
        rows = [RuleVersion(**json.loads(line)) for line in log.read_text().splitlines() if line.strip()]
        return sorted(rows, key=lambda v: -v.number)

    def save(self, text: str, officer: str) -> RuleVersion:
        """Validate and write ``text``; raises :class:`RulesError` (nothing written) when it does not parse."""
        if self.path is None:
            raise UiError("no rule file is configured: start zeikan ui with ZEIKAN_RULES pointing at the workers' rule file")
        if len(text.encode()) > MAX_RULES_BYTES:
            raise RulesError("web form", f"the rule file is limited to {MAX_RULES_BYTES} bytes")
        text = text.replace("\r\n", "\n")
        book = parse_rules(text, "web form")
        self.history_dir.mkdir(parents=True, exist_ok=True)
        number = max((v.number for v in self.versions()), default=0) + 1
        version = RuleVersion(number, officer, int(time.time() * 1000), book.version, len(book.rules))
        (self.history_dir / f"{number:05d}.yaml").write_text(text)
        with (self.history_dir / "versions.jsonl").open("a") as out:
            out.write(json.dumps(version.__dict__, sort_keys=True) + "\n")
        tmp = self.path.with_name(f".{self.path.name}.ui-tmp")
        tmp.write_text(text)
        os.replace(tmp, self.path)
        return version

    def version_text(self, number: int) -> str | None:
        """The text of saved version ``number``."""
        path = self.history_dir / f"{number:05d}.yaml"
        return path.read_text() if path.exists() else None


def describe(version: RuleVersion) -> dict[str, Any]:
    """A version as shown on the page."""
    return {"number": version.number, "officer": version.officer, "at": version.at,
            "book_version": version.book_version, "rules": version.rules}
