"""Factories for the web app tests: users files, declarations and decisions of the contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from zeikan.schemas.examples import example_record
from zeikan.ui.users import hash_password

PASSWORDS = {"tanaka": "yokohama-pass-1", "sato": "tokyo-pass-2"}
OFFICES = {"tanaka": ["JPYOK"], "sato": ["JPTYO"]}


def users_file(path: Path) -> Path:
    """A users file: tanaka sees JPYOK, sato sees JPTYO."""
    users = {u: {"name": u.title(), "password_hash": hash_password(PASSWORDS[u]), "offices": OFFICES[u]} for u in PASSWORDS}
    path.write_text(yaml.safe_dump({"users": users}))
    return path


def declaration(did: str, office: str, description: str = "wooden furniture", **fields: Any) -> dict[str, Any]:
    """A valid DeclarationFiled of ``office``."""
    record = example_record("declarations")
    record.update(declaration_id=did, office_id=office, **fields)
    record["items"] = [dict(record["items"][0], description=description)]
    return record


def decision(did: str, office: str, action: str = "SCAN", risk: float = 0.8, **fields: Any) -> dict[str, Any]:
    """A valid Decision of ``did``."""
    record = example_record("decisions")
    record.update({"decision_id": f"dec-{did}", "declaration_id": did, "office_id": office, "action": action,
                   "risk_score": risk, "stage": "PRE_ARRIVAL", "image_evidence": [], **fields})
    return record
