"""Errors of the officers' web app."""

from __future__ import annotations

from zeikan.errors import ZeikanError


class UiError(ZeikanError):
    """Base of the web app's errors."""


class UsersFileError(UiError):
    """The users file cannot be read or holds a bad entry."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"users file {path!r}: {reason}; each user needs a password_hash (argon2, `zeikan ui hash-password`) and offices")


class FormError(UiError):
    """A submitted form is invalid; the message names the field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
