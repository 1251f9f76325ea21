"""Per-scanner state of the image model: each onboarded scanner's input gain, exam threshold and physics calibration.

A scanner is onboarded from its own clean (released, "white") traffic
(:func:`onboard_scanner`): a gain per input channel brings that traffic to the
training scanners' attenuation level (:func:`~zeikan.images.scanner_adaptation.input_gain`;
the scorer applies it to the scanner's inputs before inference), mirror averaging is kept where
the scanner's first labelled scans show it catches more (``mirror_average``), its physics
constants are fitted on those scans
(:func:`~zeikan.images.scanner_adaptation.calibrate_physics`) and its exam
threshold is the anomaly score — exactly as the live scorer computes it, the
CNN score on the gained inputs or the physics score, whichever is higher — that
at most the target share of that traffic reaches. The table of onboarded scanners is one JSON
document at a URL (any fsspec path; env ``ZEIKAN_IMAGE_SCANNERS``, default
:data:`DEFAULT_SCANNERS_URL`), written for one model version: thresholds of
another model mean nothing, so a table naming another version is refused.

The live scorer and ``zeikan replay`` load the same table, so a decision is a
pure function of its inputs and this configured state; its digest joins the
image model version that every decision names.

Lookup: an entry is keyed by a scanner id (``ScanCompleted.scanner_id``) or by
a scanner model (the image metadata's ``scanner_model``, for a whole fleet);
the scanner id wins. Scans of scanners not in the table keep the engine's
``post_scan_exam_threshold``, their inputs unchanged and the model's physics calibration.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import fsspec
import numpy as np

from zeikan.images.canonical import CanonicalImage
from zeikan.images.dataset import model_input
from zeikan.images.errors import ImageError
from zeikan.images.manifest import manifest_inputs
from zeikan.images.physics import PhysicsCalibration, check
from zeikan.images.scanner_adaptation import calibrate_physics, catches_more, input_gain, threshold_from_clean

DEFAULT_SCANNERS_URL = "var/image-scanners.json"
FORMAT = "zeikan-image-scanners/1"


class ScannerCalibrationError(ImageError):
    """The table of onboarded scanners cannot be used (unreadable, malformed, or for another model)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"scanner calibrations {url!r} unusable: {reason}; re-run `zeikan images onboard` for the live model")


def combined_score(cnn_score: float, physics_score: float) -> float:
    """The anomaly score of a scan: the CNN's or the physics check's, whichever is higher."""
    return max(float(cnn_score), float(physics_score))


@dataclass(frozen=True)
class ScannerCalibration:
    """One onboarded scanner: its model inputs are multiplied by ``input_gain`` (per channel; empty: unchanged),
    with ``mirror_average`` its CNN score is the mean logit of the input and its mirror image, and POST_SCAN
    examines its scans at or above ``exam_threshold``."""

    scanner: str
    exam_threshold: float
    false_alarm_rate: float
    clean_scans: int
    physics: PhysicsCalibration
    input_gain: tuple[float, ...] = ()
    mirror_average: bool = False

    def to_dict(self) -> dict:
        """JSON-ready form (the threshold and gains round-trip exactly)."""
        return {"scanner": self.scanner, "exam_threshold": self.exam_threshold, "false_alarm_rate": self.false_alarm_rate,
                "clean_scans": self.clean_scans, "physics": self.physics.to_dict(), "input_gain": list(self.input_gain),
                "mirror_average": self.mirror_average}

    @classmethod
    def from_dict(cls, raw: Mapping) -> ScannerCalibration:
        """Parse :meth:`to_dict` output (an entry written before input adaptation has no gain and no mirror averaging)."""
        return cls(str(raw["scanner"]), float(raw["exam_threshold"]), float(raw["false_alarm_rate"]),
                   int(raw["clean_scans"]), PhysicsCalibration.from_dict(raw["physics"]),
                   tuple(float(g) for g in raw.get("input_gain", ())), bool(raw.get("mirror_average", False)))


@dataclass(frozen=True)
class ScannerCalibrations:
    """The onboarded scanners of one image model version."""

    model_version: str
    entries: Mapping[str, ScannerCalibration] = field(default_factory=lambda: MappingProxyType({}))

    def for_scan(self, scanner_id: str, scanner_model: str) -> ScannerCalibration | None:
        """The entry of this scanner id, else of this scanner model, else None."""
        return self.entries.get(scanner_id) or self.entries.get(scanner_model)

    def with_entry(self, entry: ScannerCalibration) -> ScannerCalibrations:
        """This table with ``entry`` added (or replacing the scanner's previous one)."""
        return replace(self, entries=MappingProxyType({**self.entries, entry.scanner: entry}))

    def to_json(self) -> str:
        """Deterministic JSON (sorted keys): the same table always gives the same bytes."""
        body = {"format": FORMAT, "model_version": self.model_version,
                "scanners": [self.entries[k].to_dict() for k in sorted(self.entries)]}
        return json.dumps(body, sort_keys=True, indent=1) + "\n"

    @property
    def digest(self) -> str:
        """12 hex digits of the sha256 of :meth:`to_json`."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]

    def version_of(self, model_version: str) -> str:
        """The image version decisions name: the model's, plus this table's digest when any scanner is onboarded."""
        return f"{model_version}+scanners-{self.digest}" if self.entries else model_version


def parse_calibrations(text: str, url: str, model_version: str) -> ScannerCalibrations:
    """The table in ``text``; refused (:class:`ScannerCalibrationError`) when malformed or made for another model."""
    try:
        raw = json.loads(text)
        if raw.get("format") != FORMAT:
            raise ValueError(f"format is {raw.get('format')!r}, expected {FORMAT!r}")
        entries = [ScannerCalibration.from_dict(e) for e in raw["scanners"]]
        written_for = str(raw["model_version"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ScannerCalibrationError(url, f"{type(exc).__name__}: {exc}") from exc
    if written_for != model_version:
        raise ScannerCalibrationError(url, f"thresholds were set for image model {written_for}, the model is {model_version}")
    bad = [e.scanner for e in entries if not (0.0 < e.exam_threshold and math.isfinite(e.exam_threshold))]
    if bad:
        raise ScannerCalibrationError(url, f"exam thresholds of {bad} are not positive numbers")
    bad = [e.scanner for e in entries if not all(0.0 < g and math.isfinite(g) for g in e.input_gain)]
    if bad:
        raise ScannerCalibrationError(url, f"input gains of {bad} are not positive numbers")
    return ScannerCalibrations(model_version, MappingProxyType({e.scanner: e for e in entries}))


def load_calibrations(url: str, model_version: str) -> ScannerCalibrations:
    """The table at ``url`` (an empty one when no file is there)."""
    try:
        fs, path = fsspec.core.url_to_fs(url)
        if not fs.exists(path):
            return ScannerCalibrations(model_version)
        with fs.open(path, "r") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ScannerCalibrationError(url, f"{type(exc).__name__}: {exc}") from exc
    return parse_calibrations(text, url, model_version)


def save_calibrations(url: str, table: ScannerCalibrations) -> None:
    """Write the table to ``url`` (whole, in one write)."""
    fs, path = fsspec.core.url_to_fs(url)
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    if parent:
        fs.makedirs(parent, exist_ok=True)
    with fs.open(path, "w") as handle:
        handle.write(table.to_json())


@dataclass(frozen=True)
class LabelledScans:
    """A new scanner's first labelled scans (from the annotation queue): images, declared ``(hs_code, kg)`` items, labels."""

    images: Sequence[CanonicalImage]
    declared: Sequence[Sequence[tuple[str, float]]]
    concealed: np.ndarray


def onboard_scanner(scorer, scanner: str, clean: Sequence[CanonicalImage], declared: Sequence[Sequence[tuple[str, float]]],
                    false_alarm_rate: float = 0.01, labelled: LabelledScans | None = None) -> ScannerCalibration:
    """Calibrate one scanner from its clean traffic and the declared ``(hs_code, kg)`` items of each scan.

    ``scorer`` is an :class:`~zeikan.images.scorer.OnnxImageScorer` (its CNN,
    shipped physics calibration and metadata). The input gain maps the clean
    traffic onto the model's ``clean_loaded_median`` (a model without it: no
    gain). ``labelled``: mirror averaging is kept when it catches more of those
    concealments, each scoring at its own cut from the clean traffic
    (:func:`~zeikan.images.scanner_adaptation.catches_more`); without labels it is off.
    The entry's scans are scored exactly as the scorer will score them
    (:meth:`~zeikan.images.scorer.OnnxImageScorer.score_onboarded`). Needs at least
    ``1 / false_alarm_rate`` clean scans: fewer cannot show that rate.
    """
    needed = math.ceil(1.0 / false_alarm_rate - 1e-9)
    if len(clean) < needed:
        raise ImageError(f"onboarding {scanner!r} at {false_alarm_rate:.1%} false alarms needs at least {needed} clean scans, got {len(clean)}")
    if len(declared) != len(clean):
        raise ImageError("onboarding needs the declared goods of every clean scan")
    physics = calibrate_physics(scorer.calibration, clean, declared)
    inputs = np.stack([model_input(img) for img in clean])
    manifests = manifest_inputs(declared)
    reference = scorer.metadata.get("clean_loaded_median")
    entry = ScannerCalibration(scanner, math.inf, false_alarm_rate, len(clean), physics, input_gain(inputs, reference) if reference else ())
    cnn, _ = scorer.score_onboarded(inputs, manifests, [entry] * len(clean))
    if labelled is not None:
        mirror = replace(entry, mirror_average=True)
        x, m = np.stack([model_input(img) for img in labelled.images]), manifest_inputs(labelled.declared)
        mirror_cnn, _ = scorer.score_onboarded(inputs, manifests, [mirror] * len(clean))
        if catches_more(cnn, scorer.score_onboarded(x, m, [entry] * len(x))[0], mirror_cnn,
                        scorer.score_onboarded(x, m, [mirror] * len(x))[0], labelled.concealed, false_alarm_rate):
            entry, cnn = mirror, mirror_cnn
    scores = np.array([combined_score(s, check(img, items, physics).score) for s, img, items in zip(cnn, clean, declared)])
    cut = threshold_from_clean(scores, false_alarm_rate)
    # POST_SCAN examines at score >= threshold: the next float above the cut keeps the scans at the cut below it
    return replace(entry, exam_threshold=float(np.nextafter(cut, np.inf)))
