"""Adapting to a scanner seen for the first time: thresholds from its own clean traffic, few-shot re-scoring, physics calibration.

* :func:`threshold_from_clean`: the score cut at a target false-alarm rate, set
  from that scanner's own released ("white") traffic, so a new scanner never
  gets a model that fires on everything;
* :class:`ScannerAdapter`: a small logistic model over the CNN's heatmap
  features and physical image statistics, standardised on the scanner's clean
  traffic and fitted on its first labels (≤ 100 from the annotation queue), kept
  only where cross-validation on those labels shows it catches more than the CNN
  score alone; its threshold again comes from the clean traffic;
* :func:`input_gain`: a gain per channel of the model input that brings the
  scanner's clean traffic to the attenuation level of the training scanners'
  (median of the loaded pixels), applied before inference (:func:`scale_inputs`);
* mirror averaging: the score of an input and of its mirror image (:func:`mirrored`),
  averaged in logits (:func:`mean_logit`), kept for a scanner only where its first labels show
  it catches more at the clean-traffic cut (:func:`catches_more`);
* :func:`calibrate_physics`: the physics check's empty-container attenuation,
  effective mass attenuation and material ratios fitted per scanner from clean
  scans with their declared net weights (tare removed at ingest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from zeikan.images.active_learning import fit_logistic, heatmap_features, predict_logistic
from zeikan.images.canonical import CanonicalImage
from zeikan.images.physics import PhysicsCalibration, check, declared_material, expected_ratio, measure


def threshold_from_clean(clean_scores: np.ndarray, false_alarm_rate: float) -> float:
    """Score cut that the scanner's next clean scans pass with probability at most ``false_alarm_rate``.

    Split-conformal: of ``n`` clean scores, a new clean score exceeds the ``k``-th highest with
    probability ``k / (n + 1)``, so the cut is the ``k``-th highest with ``k = floor(rate * (n + 1))``
    (at least the highest). The in-sample rule (``floor(rate * n)`` scores allowed above the cut) held the
    rate only on the scans it was set on: from 200 clean Kestrel scans at 1 %, a second test split of
    that scanner saw 1.94 % (round 8).

    >>> threshold_from_clean(np.arange(200.0), 0.01), threshold_from_clean(np.arange(100.0), 0.01)
    (198.0, 99.0)
    """
    ordered = np.sort(np.asarray(clean_scores, dtype=np.float64))
    if len(ordered) == 0:
        raise ValueError("a threshold needs clean traffic of the scanner")
    above = max(1, int(np.floor(false_alarm_rate * (len(ordered) + 1) + 1e-9)))
    return float(ordered[len(ordered) - above])


LOADED_ATTENUATION = 0.3
"""model-input attenuation above which a pixel counts as loaded (the input gain compares loaded pixels only)"""


def loaded_medians(x: np.ndarray) -> tuple[float, ...]:
    """Per channel median of the loaded pixels (:data:`LOADED_ATTENUATION`) of model inputs ``(N, C, H, W)``."""
    channels = [x[:, c] for c in range(x.shape[1])]
    if not all((ch > LOADED_ATTENUATION).any() for ch in channels):
        raise ValueError("an input gain needs loaded pixels in every channel of the clean traffic")
    return tuple(float(np.median(ch[ch > LOADED_ATTENUATION])) for ch in channels)


def input_gain(clean_inputs: np.ndarray, reference: Sequence[float]) -> tuple[float, ...]:
    """Gain per channel that maps the loaded median of a scanner's clean model inputs onto ``reference``.

    ``reference``: the same medians (:func:`loaded_medians`) of the training scanners' clean scans, from
    the model's metadata (``clean_loaded_median``).
    """
    observed = loaded_medians(clean_inputs)
    if len(reference) != len(observed):
        raise ValueError(f"reference medians for {len(reference)} channels, the inputs have {len(observed)}")
    return tuple(float(r) / o for r, o in zip(reference, observed))


def scale_inputs(x: np.ndarray, gain: Sequence[float]) -> np.ndarray:
    """Model inputs ``(N, C, H, W)`` times a gain per channel (float32, a new array)."""
    return (np.asarray(x, dtype=np.float32) * np.asarray(gain, dtype=np.float32)[None, :, None, None]).astype(np.float32)


def mirrored(x: np.ndarray) -> np.ndarray:
    """Model inputs ``(N, C, H, W)`` mirrored front-to-doors within each one's extent (its columns up to the last
    non-zero one); the zero padding stays on the right."""
    out = np.zeros_like(x)
    for i in range(len(x)):
        used = np.flatnonzero(x[i].max(axis=(0, 1)) > 0)
        extent = int(used[-1]) + 1 if len(used) else x.shape[-1]
        out[i, ..., :extent] = x[i, ..., :extent][..., ::-1]
    return out


def mean_logit(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Probability whose logit is the mean of the logits of ``p`` and ``q`` (float32; clipped 1e-7 from 0 and 1)."""
    def logit(v: np.ndarray) -> np.ndarray:
        v = np.clip(np.asarray(v, dtype=np.float64), 1e-7, 1 - 1e-7)
        return np.log(v / (1 - v))

    return (1.0 / (1.0 + np.exp(-(logit(p) + logit(q)) / 2))).astype(np.float32)


def catches_more(clean_a: np.ndarray, labelled_a: np.ndarray, clean_b: np.ndarray, labelled_b: np.ndarray,
                 concealed: np.ndarray, false_alarm_rate: float) -> bool:
    """Whether scoring b catches more labelled concealments than scoring a, each above its own cut from the clean traffic."""
    concealed = np.asarray(concealed, dtype=bool)

    def caught(clean: np.ndarray, labelled: np.ndarray) -> int:
        return int((np.asarray(labelled)[concealed] > threshold_from_clean(clean, false_alarm_rate)).sum())

    return caught(clean_b, labelled_b) > caught(clean_a, labelled_a)


def image_statistics(images: Sequence[CanonicalImage]) -> np.ndarray:
    """Physical statistics per image (attenuation units): per channel mean, std, 99th percentile, and the channel ratio."""
    rows = []
    for img in images:
        att = img.attenuation()
        hi = att[-1]
        lo = att[0]
        dense = hi > 0.3
        ratio = float(lo[dense].sum() / max(hi[dense].sum(), 1e-6)) if dense.any() else 1.0
        rows.append([hi.mean(), hi.std(), np.percentile(hi, 99), lo.mean(), np.percentile(lo, 99), ratio])
    return np.asarray(rows, dtype=np.float64)


def adaptation_features(scores: np.ndarray, heatmaps: np.ndarray, images: Sequence[CanonicalImage]) -> np.ndarray:
    """The CNN's score logit and heatmap summary (max, mean, std, top-8 mean) beside the image's physical statistics.

    Few enough (11) to fit from ~100 labels; the heatmap's region grid is left out.
    """
    return np.column_stack([heatmap_features(scores, heatmaps)[:, :5], image_statistics(images)])


@dataclass(frozen=True)
class ScannerAdapter:
    """Few-shot re-scoring for one scanner (see the module docstring).

    The first feature is the CNN's own score (logit). :meth:`fit` re-scores with all the
    features only when that catches more concealments in cross-validation on the
    adaptation data than the CNN score alone; otherwise it keeps the CNN's ranking and only
    sets the threshold from the clean traffic (so the labels never make it worse).
    """

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    threshold: float

    @classmethod
    def fit(cls, labelled: np.ndarray, y: np.ndarray, clean: np.ndarray, false_alarm_rate: float = 0.01, l2: float = 3.0) -> ScannerAdapter:
        """Fit on labelled features ``(n, d)`` / labels, standardised and thresholded on clean-traffic features."""
        y = np.asarray(y, dtype=np.float64)
        everything = list(range(labelled.shape[1]))
        columns = everything if _caught_in_cv(labelled, y, clean, false_alarm_rate, l2, everything) > \
            _caught_in_cv(labelled, y, clean, false_alarm_rate, l2, [0]) else [0]
        return cls._fitted(labelled, y, clean, false_alarm_rate, l2, columns)

    @classmethod
    def _fitted(cls, labelled: np.ndarray, y: np.ndarray, clean: np.ndarray, false_alarm_rate: float, l2: float,
                columns: list[int]) -> ScannerAdapter:
        mean, scale = clean.mean(axis=0), clean.std(axis=0) + 1e-6
        weights = np.zeros(labelled.shape[1] + 1)
        weights[columns + [-1]] = fit_logistic(((labelled - mean) / scale)[:, columns], y, l2=l2)
        unfitted = cls(mean, scale, weights, 0.0)
        return replace(unfitted, threshold=threshold_from_clean(unfitted.score(clean), false_alarm_rate))

    @property
    def rescored(self) -> bool:
        """Whether features beyond the CNN score take part (cross-validation chose them)."""
        return bool(np.any(self.weights[1:-1] != 0))

    def score(self, features: np.ndarray) -> np.ndarray:
        """Adapted probability of a concealment."""
        return predict_logistic(self.weights, (features - self.mean) / self.scale)


CV_FOLDS = 5


def _caught_in_cv(labelled: np.ndarray, y: np.ndarray, clean: np.ndarray, false_alarm_rate: float, l2: float,
                  columns: list[int]) -> int:
    """Held-out concealments caught: folds of the labels x halves of the clean traffic (fit on one half, cut on the other)."""
    folds = np.arange(len(y)) % CV_FOLDS
    halves = (clean[0::2], clean[1::2])
    caught = 0
    for k in range(CV_FOLDS):
        train, test = folds != k, (folds == k) & (y == 1)
        if not test.any() or len(set(y[train].tolist())) < 2:
            continue
        for fit_half, cut_half in (halves, halves[::-1]):
            model = ScannerAdapter._fitted(labelled[train], y[train], fit_half, false_alarm_rate, l2, columns)
            cut = threshold_from_clean(model.score(cut_half), false_alarm_rate)
            caught += int((model.score(labelled[test]) > cut).sum())
    return caught


TOLERANCE_QUANTILE = 0.98
"""the per-scanner tolerances leave about 2 % of that scanner's clean traffic outside each check"""


def calibrate_physics(base: PhysicsCalibration, clean: Sequence[CanonicalImage],
                      declared: Sequence[Sequence[tuple[str, float]]]) -> PhysicsCalibration:
    """Per-scanner physics constants from clean scans and their declared ``(hs_code, net kg)`` items.

    For each container length, integrated attenuation per channel is fitted as
    ``empty + k * net_kg`` (least squares): ``empty`` is the empty container,
    ``k`` the effective mass attenuation. The material ratios shift by the clean
    goods' median offset from the ratio their declared mix should show. The mass
    and ratio tolerances widen (never narrow) to the scanner's own clean spread
    (:data:`TOLERANCE_QUANTILE`).
    """
    measured = [measure(img, base) for img in clean]
    net_kg = [sum(kg for _, kg in items) for items in declared]
    empty = dict(base.empty_att_cm2)
    slopes = []
    for length in ("20", "40"):
        idx = [i for i, m in enumerate(measured) if str(m.length_ft) == length and net_kg[i] > 0]
        if len(idx) < 5:
            continue
        design = np.column_stack([np.ones(len(idx)), [net_kg[i] for i in idx]])
        channels = len(measured[idx[0]].att_cm2)
        fits = [np.linalg.lstsq(design, np.array([measured[i].att_cm2[c] for i in idx]), rcond=None)[0] for c in range(channels)]
        empty[length] = tuple(float(f[0]) for f in fits) if channels == 2 else (0.0, float(fits[0][0]))
        slopes.append(float(fits[-1][1]))
    if not slopes:
        return base
    k_high = float(np.mean(slopes)) / 1000.0  # attenuation x cm² per gram of goods
    mean_mu = float(np.mean(list(base.mu_high_cm2_g.values())))
    mu_high = {m: v * k_high / mean_mu for m, v in base.mu_high_cm2_g.items()}
    offsets = []
    for m, items in zip(measured, declared):
        net = [a - e for a, e in zip(m.att_cm2, empty[str(m.length_ft)][-len(m.att_cm2):])]
        by_material: dict[str, float] = {}
        for hs, kg in items:
            by_material[declared_material(hs)] = by_material.get(declared_material(hs), 0.0) + kg
        if len(net) == 2 and net[1] > 0 and by_material:
            offsets.append(net[0] / net[1] - expected_ratio(by_material, base))
    shift = float(np.median(offsets)) if offsets else 0.0
    ratio = {m: v + shift for m, v in base.ratio.items()}
    ratio_tolerance = max(base.ratio_tolerance, float(np.quantile(np.abs(np.array(offsets) - shift), TOLERANCE_QUANTILE))) if offsets else base.ratio_tolerance
    tuned = PhysicsCalibration(mu_high, ratio, base.density_kg_m3, empty, base.roof_rows, base.floor_row,
                               base.mass_tolerance, ratio_tolerance)
    spread = [abs(np.log(max(c.implied_mass_kg, 1.0) / c.declared_mass_kg))
              for c in (check(img, items, tuned) for img, items in zip(clean, declared)) if c.declared_mass_kg > 0]
    if spread:
        tuned = replace(tuned, mass_tolerance=max(base.mass_tolerance, float(np.exp(np.quantile(spread, TOLERANCE_QUANTILE)))))
    return tuned
