"""The audit log: one JSON line per action of an officer (who, when, what, on which object)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any


class AuditLog:
    """Append-only JSON Lines file of who did what."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def record(self, officer: str, action: str, target: str, **details: Any) -> None:
        """Append one entry (``at`` is epoch millis)."""
        entry = {"at": int(time.time() * 1000), "officer": officer, "action": action, "target": target, **details}
        line = json.dumps(entry, sort_keys=True, default=str)
        with self._lock, self.path.open("a") as out:
            out.write(line + "\n")

    def entries(self) -> list[dict[str, Any]]:
        """Every entry so far, oldest first."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
