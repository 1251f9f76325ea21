"""Labels stored beside a canonical image: verdict, class, boxes, where the label came from."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Literal

Verdict = Literal["white", "black"]
LabelSource = Literal["seizure", "inspection", "officer"]
VERDICTS: tuple[str, ...] = ("white", "black")
SOURCES: tuple[str, ...] = ("seizure", "inspection", "officer")


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in canonical pixels (COCO order: x, y, width, height)."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class ImageLabel:
    """One label of one image (an image may carry several, from several sources)."""

    image_sha256: str
    verdict: Verdict
    source: LabelSource
    annotator: str
    labelled_at: int
    cls: str | None = None
    boxes: tuple[Box, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if self.source not in SOURCES:
            raise ValueError(f"label source must be one of {SOURCES}, got {self.source!r}")

    @property
    def label_id(self) -> str:
        """Content hash: storing the same label twice is idempotent."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:24]

    def to_json(self) -> str:
        """Deterministic JSON of this label."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ImageLabel:
        """Parse a label written by :meth:`to_json`."""
        raw = json.loads(text)
        raw["boxes"] = tuple(Box(**b) for b in raw.get("boxes", ()))
        return cls(**raw)


def latest_verdict(labels: list[ImageLabel]) -> Verdict | None:
    """The verdict to train on: seizure beats inspection beats officer, then the latest wins."""
    if not labels:
        return None
    rank = {"seizure": 2, "inspection": 1, "officer": 0}
    return max(labels, key=lambda lb: (rank[lb.source], lb.labelled_at)).verdict
