"""Event ids: a letter, the filing date (YYMMDD) and a sequence number, so they sort by day."""

from __future__ import annotations

from datetime import date, timedelta


def day_tag(start: date, day: int) -> str:
    """``YYMMDD`` of simulated day ``day``."""
    return (start + timedelta(days=day)).strftime("%y%m%d")


def declaration_id(tag: str, seq: int) -> str:
    """Id of the ``seq``-th declaration filed on the day tagged ``tag``."""
    return f"D{tag}{seq:06d}"


def scan_id(tag: str, seq: int) -> str:
    """Id of the ``seq``-th scan of containers of the day tagged ``tag``."""
    return f"S{tag}{seq:06d}"


def inspection_id(tag: str, seq: int) -> str:
    """Id of the ``seq``-th inspection of declarations of the day tagged ``tag``."""
    return f"I{tag}{seq:06d}"
