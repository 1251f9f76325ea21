"""Settings of the officers' web app, read once at the edge (flags, then ``ZEIKAN_UI_*`` environment, then defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from zeikan.images.store import DEFAULT_STORE_URL
from zeikan.env_settings import settings_from_env
from zeikan.errors import InvalidSetting
from zeikan.streams.kafka.kafka_config import DEFAULT_BOOTSTRAP

AUTH_MODES: tuple[str, ...] = ("password", "header")
"""``password``: users log in with a password checked against an argon2 hash;
``header``: a reverse proxy authenticates and names the user in ``header_name``."""


@dataclass(frozen=True)
class UiSettings:
    """One frozen settings object of ``zeikan ui``."""

    bootstrap: str = DEFAULT_BOOTSTRAP
    """Kafka brokers (``ZEIKAN_BOOTSTRAP``)."""
    host: str = "127.0.0.1"
    """Interface to listen on (``ZEIKAN_UI_HOST``)."""
    port: int = 8080
    """Port to listen on (``ZEIKAN_UI_PORT``)."""
    users_file: str = "var/ui/users.yaml"
    """YAML users: name -> password_hash, offices, display name (``ZEIKAN_UI_USERS``)."""
    auth_mode: str = "password"
    """One of :data:`AUTH_MODES` (``ZEIKAN_UI_AUTH``)."""
    header_name: str = "X-Remote-User"
    """Header naming the user in header mode (``ZEIKAN_UI_USER_HEADER``)."""
    secret: str = ""
    """Key signing session cookies (``ZEIKAN_UI_SECRET``); empty: a random one per start."""
    session_max_age_s: int = 8 * 3600
    """A session expires this long after login (``ZEIKAN_UI_SESSION_S``)."""
    image_store: str = DEFAULT_STORE_URL
    """Image store URL (``ZEIKAN_IMAGE_STORE``)."""
    rules_path: str = ""
    """The workers' officer rule file, edited on the rules page (``ZEIKAN_RULES``)."""
    data_dir: str = "var/ui"
    """Audit log and rule versions (``ZEIKAN_UI_DATA``)."""
    page_size: int = 50
    """Worklist rows per page (``ZEIKAN_UI_PAGE_SIZE``)."""
    horizon_days: float = 14.0
    """Declarations last seen this long (event time) before the newest event are dropped (``ZEIKAN_UI_HORIZON_DAYS``; 0: keep all)."""

    ENV = {
        "bootstrap": "ZEIKAN_BOOTSTRAP",
        "host": "ZEIKAN_UI_HOST",
        "port": "ZEIKAN_UI_PORT",
        "users_file": "ZEIKAN_UI_USERS",
        "auth_mode": "ZEIKAN_UI_AUTH",
        "header_name": "ZEIKAN_UI_USER_HEADER",
        "secret": "ZEIKAN_UI_SECRET",
        "session_max_age_s": "ZEIKAN_UI_SESSION_S",
        "image_store": "ZEIKAN_IMAGE_STORE",
        "rules_path": "ZEIKAN_RULES",
        "data_dir": "ZEIKAN_UI_DATA",
        "page_size": "ZEIKAN_UI_PAGE_SIZE",
        "horizon_days": "ZEIKAN_UI_HORIZON_DAYS",
    }

    def __post_init__(self) -> None:
        if self.auth_mode not in AUTH_MODES:
            raise InvalidSetting("auth_mode", self.auth_mode, " or ".join(AUTH_MODES))
        if self.session_max_age_s < 60:
            raise InvalidSetting("session_max_age_s", self.session_max_age_s, "at least 60 seconds")
        if self.horizon_days < 0:
            raise InvalidSetting("horizon_days", self.horizon_days, "a number of days >= 0")
        if not 1 <= self.page_size <= 1000:
            raise InvalidSetting("page_size", self.page_size, "an integer in 1..1000")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: str | int | None) -> UiSettings:
        """Settings from flags (``None`` = not given), then ``env``, then defaults."""
        return settings_from_env(cls, env, flags)
