"""Who is asking and may they: the logged-in officer, their offices, CSRF tokens on every write.

Password mode keeps the user in a signed session cookie (itsdangerous via Starlette's
``SessionMiddleware``; the signature carries a timestamp, so a session older than
``session_max_age_s`` is refused by the server, whatever the browser keeps). Header mode
trusts the reverse proxy's user header and still needs a session for the CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping

from starlette.requests import Request

from zeikan.ui.users import Officer, Users


class LoginRequired(Exception):
    """The request needs a logged-in officer (GET: redirect to the login page; writes: 403)."""


class Forbidden(Exception):
    """A write without a valid CSRF token."""


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, form: Mapping[str, object]) -> None:
    """Raise :class:`Forbidden` unless the form carries the session's CSRF token."""
    expected = request.session.get("csrf")
    given = form.get("csrf")
    if not expected or not isinstance(given, str) or not hmac.compare_digest(expected, given):
        raise Forbidden("missing or wrong CSRF token: reload the page and try again")


def current_officer(request: Request, users: Users, auth_mode: str, header_name: str) -> Officer | None:
    """The officer making ``request`` (None when nobody is logged in)."""
    if auth_mode == "header":
        name = request.headers.get(header_name)
        return users.get(name) if name else None
    user_id = request.session.get("user")
    return users.get(user_id) if isinstance(user_id, str) else None


def require_officer(request: Request, users: Users, auth_mode: str, header_name: str) -> Officer:
    """The logged-in officer, or :class:`LoginRequired`."""
    officer = current_officer(request, users, auth_mode, header_name)
    if officer is None:
        raise LoginRequired()
    return officer


def start_session(request: Request, officer: Officer) -> None:
    """A fresh session for ``officer`` (new CSRF token: no fixation of an earlier one)."""
    request.session.clear()
    request.session["user"] = officer.user_id
    request.session["csrf"] = secrets.token_urlsafe(32)
