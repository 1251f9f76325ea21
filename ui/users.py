"""Officers: who may log in (argon2 password hashes) and which offices each one sees.

The users file is YAML::

    users:
      tanaka:
        name: Tanaka Aiko
        password_hash: $argon2id$v=19$m=65536,t=3,p=4$...   # zeikan ui hash-password
        offices: [JPYOK]

In header mode (behind a reverse proxy that authenticates) the proxy names the user in a
header; the file still says which offices that user sees, and password_hash may be left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from zeikan.ui.errors import UsersFileError

_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("not a password of anyone")
"""Verified against when the user is unknown, so a wrong name costs as long as a wrong password."""


@dataclass(frozen=True)
class Officer:
    """A user of the web app."""

    user_id: str
    name: str
    offices: frozenset[str]
    password_hash: str | None = None


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` for the users file."""
    return _HASHER.hash(password)


class Users:
    """The configured officers, by user id."""

    def __init__(self, officers: Mapping[str, Officer]) -> None:
        self._officers = dict(officers)

    @classmethod
    def load(cls, path: Path, need_passwords: bool = True) -> Users:
        """Read a users file; a bad or missing entry raises :class:`UsersFileError`."""
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise UsersFileError(str(path), str(exc).replace("\n", " ")) from None
        entries = raw.get("users") if isinstance(raw, Mapping) else None
        if not isinstance(entries, Mapping) or not entries:
            raise UsersFileError(str(path), "needs a 'users' mapping with at least one user")
        officers = {}
        for user_id, entry in entries.items():
            if not isinstance(entry, Mapping) or not isinstance(entry.get("offices"), list) or not entry["offices"]:
                raise UsersFileError(str(path), f"user {user_id!r} needs a non-empty 'offices' list")
            secret = entry.get("password_hash")
            if need_passwords and not (isinstance(secret, str) and secret.startswith("$argon2")):
                raise UsersFileError(str(path), f"user {user_id!r} has no argon2 password_hash")
            officers[str(user_id)] = Officer(str(user_id), str(entry.get("name") or user_id),
                                             frozenset(str(o) for o in entry["offices"]), secret)
        return cls(officers)

    def get(self, user_id: str) -> Officer | None:
        """The officer ``user_id`` (None if not configured)."""
        return self._officers.get(user_id)

    def authenticate(self, user_id: str, password: str) -> Officer | None:
        """The officer if ``password`` matches their hash, else None (same cost for unknown users)."""
        officer = self._officers.get(user_id)
        try:
            _HASHER.verify(officer.password_hash if officer and officer.password_hash else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return officer if officer and officer.password_hash else None
