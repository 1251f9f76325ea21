"""The historical (legacy) inspection policy and what imperfect inspections find.

The legacy policy is a rule-based risk profile, not random: new importers, high-duty
goods, transshipment and "watched" origins score high; each office inspects its
top-scored declarations up to its daily capacity (~8-12 %), plus a small random share
flagged ``random_selected``. Inspections miss things: a document check finds ~40 % of
value fraud and no concealment, a scan ~80 % of concealment and quantity fraud, a
physical exam ~90 % of everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zeikan.sim.catalog import COUNTRY_INDEX, OFFICES
from zeikan.sim.fraud import CONCEALMENT, KINDS

INSPECTION_TYPES: tuple[str, ...] = ("DOCUMENT", "SCAN", "PHYSICAL")
DOCUMENT, SCAN, PHYSICAL = range(len(INSPECTION_TYPES))
OUTCOMES: tuple[str, ...] = ("NO_FINDING", "DISCREPANCY", "SEIZURE")
NO_FINDING, DISCREPANCY, SEIZURE = range(len(OUTCOMES))

DETECTION = np.array([
    # UNDERVALUATION, MISDECLARED_GOODS, QUANTITY, WEIGHT, ORIGIN, CONCEALMENT
    [0.40, 0.40, 0.20, 0.25, 0.40, 0.00],  # DOCUMENT
    [0.05, 0.50, 0.80, 0.60, 0.05, 0.80],  # SCAN
    [0.90, 0.90, 0.90, 0.90, 0.85, 0.90],  # PHYSICAL
])
"""Probability that an inspection type finds a fraud kind (rows: type, columns: fraud.KINDS)."""

RANDOM_SHARE = 0.015
"""Share of the declarations not selected by risk that are inspected at random."""
NEW_IMPORTER_DAYS = 90
WATCHED_ORIGINS: tuple[str, ...] = ("CN", "PK", "TR", "BD")

_CAPACITY = np.array([o.inspection_rate for o in OFFICES])
_WATCHED = [COUNTRY_INDEX[c] for c in WATCHED_ORIGINS]


@dataclass(frozen=True)
class Selection:
    """Which declarations are inspected, how, and whether at random."""

    inspection_type: np.ndarray
    """Index into :data:`INSPECTION_TYPES`, -1 when not inspected."""
    random_selected: np.ndarray


@dataclass(frozen=True)
class Findings:
    """What the inspections found, per declaration."""

    found: np.ndarray
    """Bit mask over ``fraud.KINDS`` of the kinds found."""
    outcome: np.ndarray
    """Index into :data:`OUTCOMES` (NO_FINDING where not inspected)."""
    revenue_recovered: np.ndarray


def legacy_score(
    rng: np.random.Generator, watchlisted: np.ndarray, age_days: np.ndarray, max_duty: np.ndarray,
    origin: np.ndarray, dispatch: np.ndarray, mode_is_road: np.ndarray,
) -> np.ndarray:
    """The legacy risk profile: a watch list and a handful of rules on declared facts, plus officer noise."""
    return (
        2.0 * watchlisted
        + 1.3 * (age_days <= NEW_IMPORTER_DAYS)
        + 1.0 * (max_duty >= 0.2)
        + 0.7 * (dispatch != origin)
        + 0.6 * np.isin(origin, _WATCHED)
        + 0.4 * mode_is_road
        + rng.normal(0.0, 0.5, len(age_days))
    )


def select(rng: np.random.Generator, office: np.ndarray, score: np.ndarray, has_container: np.ndarray) -> Selection:
    """Each office inspects its top-scored declarations up to capacity, plus a random share."""
    n = len(office)
    order = np.lexsort((-score, office))
    counts = np.bincount(office, minlength=len(OFFICES))
    starts = np.cumsum(counts) - counts
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - starts[office[order]]
    capacity = np.floor(counts * _CAPACITY + rng.random(len(OFFICES)))
    by_risk = rank < capacity[office]
    at_random = ~by_risk & (rng.random(n) < RANDOM_SHARE)

    u = rng.random(n)
    high = score > 2.5
    container_type = np.where(u < np.where(high, 0.35, 0.2), PHYSICAL, np.where(u < 0.65, SCAN, DOCUMENT))
    loose_type = np.where(u < 0.3, PHYSICAL, DOCUMENT)
    kind = np.where(has_container, container_type, loose_type)
    return Selection(inspection_type=np.where(by_risk | at_random, kind, -1), random_selected=at_random)


def inspect(rng: np.random.Generator, selection: Selection, kinds: np.ndarray, revenue_by_kind: np.ndarray) -> Findings:
    """Imperfect inspections: each committed kind is found with the type's detection rate."""
    n = len(kinds)
    inspected = selection.inspection_type >= 0
    committed = (kinds[:, None] >> np.arange(len(KINDS))[None, :]) & 1 == 1
    p = DETECTION[np.maximum(selection.inspection_type, 0)]
    hit = committed & inspected[:, None] & (rng.random((n, len(KINDS))) < p)
    found = (hit * (1 << np.arange(len(KINDS)))[None, :]).sum(axis=1)
    outcome = np.where(hit[:, CONCEALMENT], SEIZURE, np.where(hit.any(axis=1), DISCREPANCY, NO_FINDING))
    recovered = np.round((revenue_by_kind * hit).sum(axis=1), 2)
    return Findings(found=found, outcome=outcome, revenue_recovered=recovered)
