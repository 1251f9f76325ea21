"""Inspection lanes (cf. ASYCUDA selectivity: green, yellow, NII, red), ordered by intrusiveness."""

from __future__ import annotations

from enum import Enum


class Action(str, Enum):
    """A decision's lane; comparisons follow intrusiveness (RELEASE < ... < PHYSICAL_EXAM)."""

    RELEASE = "RELEASE"
    DOCUMENT_CHECK = "DOCUMENT_CHECK"
    SCAN = "SCAN"
    PHYSICAL_EXAM = "PHYSICAL_EXAM"

    @property
    def rank(self) -> int:
        """0 for RELEASE up to 3 for PHYSICAL_EXAM."""
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Action):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Action):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Action):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Action):
            return NotImplemented
        return self.rank >= other.rank


_RANK = {action: rank for rank, action in enumerate(Action)}

SELECTED_LANES: tuple[Action, ...] = (Action.PHYSICAL_EXAM, Action.SCAN, Action.DOCUMENT_CHECK)
"""Lanes that select a declaration for control, most intrusive first."""


def strongest(*actions: Action | None) -> Action:
    """The most intrusive of ``actions`` (None ignored); RELEASE when there is none."""
    present = [a for a in actions if a is not None]
    return max(present, default=Action.RELEASE)


def parse_action(value: str) -> Action:
    """An :class:`Action` from its name, case-insensitive; ValueError names the valid lanes."""
    try:
        return Action(str(value).strip().upper())
    except ValueError:
        valid = ", ".join(a.value for a in Action)
        raise ValueError(f"unknown lane {value!r}: use one of {valid}") from None


INSPECTION_LANES: dict[str, str] = {"DOCUMENT": "DOCUMENT_CHECK", "SCAN": "SCAN", "PHYSICAL": "PHYSICAL_EXAM"}
"""An InspectionResult's ``inspection_type`` -> the lane (Action value) it serves."""
