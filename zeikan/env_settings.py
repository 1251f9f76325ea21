"""Reading a frozen settings dataclass at the edge: flags win over environment, which wins over defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

from zeikan.errors import InvalidSetting

S = TypeVar("S")

def _names(raw: Any) -> tuple[str, ...]:
    return tuple(raw) if isinstance(raw, (tuple, list)) else tuple(x.strip() for x in str(raw).split(",") if x.strip())


def _flag(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(raw)


_KINDS: dict[str, tuple[Any, str]] = {
    "bool": (_flag, "true or false (1/0, yes/no, on/off)"),
    "int": (int, "an integer"),
    "float": (float, "a number"),
    "tuple[str, ...]": (_names, "a comma-separated list"),
}
"""Annotation name -> (conversion, what it expects); any other annotation is kept as a string."""


def settings_from_env(cls: type[S], env: Mapping[str, str] | None, flags: dict[str, Any]) -> S:
    """Build ``cls`` from ``flags`` (``None`` = not given), then ``env`` (default ``os.environ``) via ``cls.ENV``.

    Raises :class:`InvalidSetting` for a value of the wrong type and ``TypeError`` for a
    flag that is no field of ``cls``.
    """
    env = os.environ if env is None else env
    names: Mapping[str, str] = cls.ENV  # type: ignore[attr-defined]
    values: dict[str, Any] = {}
    for field in fields(cls):  # type: ignore[arg-type]
        flag = flags.pop(field.name, None)
        raw = flag if flag is not None else env.get(names[field.name])
        if raw is None:
            continue
        kind, expected = _KINDS.get(str(field.type), (str, "a string"))
        try:
            values[field.name] = kind(raw)
        except ValueError:
            raise InvalidSetting(field.name, raw, expected) from None
    if flags:
        raise TypeError(f"unknown {cls.__name__} fields: {', '.join(sorted(flags))}")
    return cls(**values)
