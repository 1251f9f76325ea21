"""The feature formulas, written once and used by both the online state and the polars batch.

Every function here is plain arithmetic, so it accepts Python floats (online path)
and ``polars.Expr`` columns (batch path) alike; the only non-operator step, the
logarithm, dispatches on the argument type. Aggregation (how a median or a count
as of time t is obtained) differs between the paths; the formula applied to the
aggregates does not.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

import polars as pl

X = TypeVar("X", float, pl.Expr)

DAY_MS = 86_400_000
"""One day in epoch-milliseconds."""
HOUR_MS = 3_600_000
"""One hour in epoch-milliseconds."""

WINDOW = 24
"""Rolling window of a price/weight norm: the last WINDOW observations of the key (bounded memory)."""
IQR_SCALE = 1.349
"""The interquartile range of a normal distribution in sigmas (IQR / IQR_SCALE estimates sigma)."""
QUARTILES = (0.25, 0.75)
"""Quartiles of the window: the sorted value at index floor((n - 1) * q) (no interpolation)."""
SCALE_FLOOR = 0.05
"""Floor on the robust scale (log units, ~5 %): identical past values do not make z explode."""
SHRINK = 2.0
"""z is shrunk by n / (n + SHRINK): a norm from few observations says little."""
EPS = 1e-9
"""Guards logarithms of zero quantities/weights."""

PRIOR_STRENGTH = 5.0
"""Pseudo-count pulling an entity's hit rate toward the prior (Bayesian smoothing)."""
GLOBAL_PRIOR = 0.1
"""Prior hit rate before any inspection is known."""
GLOBAL_STRENGTH = 10.0
"""Pseudo-count of GLOBAL_PRIOR in the running global hit rate."""
HUB_PRIOR = 0.1
"""Prior share of transshipment (origin != dispatch) for a dispatch country."""

ROUND_VALUE = 100.0
"""A customs value that is a multiple of this is 'round'."""
ROUND_WEIGHT = 10.0
"""A gross weight that is a multiple of this is 'round'."""
MAX_ROUND_DIGITS = 6
"""Roundness of a money amount counts at most this many trailing zeros of its cents (10,000.00 and up)."""


def _log(x: Any) -> Any:
    try:
        return math.log(x)  # floats: the online hot path, no type dispatch
    except TypeError:
        return x.log()


def log_ratio(num: X, den: X) -> X:
    """log(num / den) with an epsilon guard: unit value, weight per unit, value per kg."""
    return _log((num + EPS) / (den + EPS))


def robust_z(x: X, median: X, iqr: X, n: X) -> X:
    """Robust z-score of x against a window's median and interquartile range, shrunk when n is small.

    >>> round(robust_z(0.0, 1.0, 0.2, 8.0), 3)
    -4.035
    """
    return (x - median) / (iqr / IQR_SCALE + SCALE_FLOOR) * (n / (n + SHRINK))


def smoothed_rate(hits: X, trials: X, prior: X, strength: float = PRIOR_STRENGTH) -> X:
    """Beta-smoothed rate: (hits + strength * prior) / (trials + strength).

    >>> smoothed_rate(0.0, 0.0, 0.2)
    0.2
    """
    return (hits + strength * prior) / (trials + strength)


def global_rate(hits: X, trials: X) -> X:
    """Running global hit rate (the prior of every entity rate)."""
    return smoothed_rate(hits, trials, GLOBAL_PRIOR, GLOBAL_STRENGTH)


def is_multiple(x: X, step: float) -> X:
    """1.0 when x is a whole multiple of step ('too regular' values), else 0.0."""
    flag = (x % step) == 0
    return flag.cast(pl.Float64) if isinstance(flag, pl.Expr) else float(flag)


def round_digits(value: float) -> float:
    """How round a money amount is: trailing zeros of its whole cents (0 for 12.34, 2 for 12.00, 3 for 120.00).

    At most ``MAX_ROUND_DIGITS``; on floats only (it reads a declaration's own values).

    >>> round_digits(12.34), round_digits(12.0), round_digits(120.0), round_digits(0.0)
    (0.0, 2.0, 3.0, 0.0)
    """
    cents = round(abs(value) * 100)
    digits = 0
    while cents and cents % 10 == 0 and digits < MAX_ROUND_DIGITS:
        cents //= 10
        digits += 1
    return float(digits)


def price_fit(own_z: X, best_other_abs_z: X) -> X:
    """How much better a price fits another norm than its own: |own z| - the smallest |z| against the others.

    >>> price_fit(-4.0, 0.5)
    3.5
    """
    return abs(own_z) - best_other_abs_z


def origin_lr(at_others: X, at_own: X) -> X:
    """log((count from the other origins + 1/2) / (count from the declared origin + 1/2)).

    >>> round(origin_lr(9.5, 0.0), 3), origin_lr(0.0, 0.0)
    (2.996, 0.0)
    """
    return _log((at_others + 0.5) / (at_own + 0.5))


def positive(x: X) -> X:
    """1.0 when x > 0 (an entity or pair seen before), else 0.0."""
    flag = x > 0
    return flag.cast(pl.Float64) if isinstance(flag, pl.Expr) else float(flag)


def days_between(later_ms: X, earlier_ms: X) -> X:
    """Elapsed days between two epoch-millis times."""
    return (later_ms - earlier_ms) / DAY_MS


def lead_time_hours(expected_arrival_ms: X, filed_at_ms: X) -> X:
    """Filing-to-arrival lead time in hours (negative: filed after arrival)."""
    return (expected_arrival_ms - filed_at_ms) / HOUR_MS


def log_count(n: X) -> X:
    """log(1 + n): volume on a scale where 10 and 11 declarations look alike."""
    return _log(n + 1.0)


def hs6(hs_code: str) -> str:
    """The 6-digit HS subheading of an HS code (the international, comparable part)."""
    return hs_code[:6]


def norm_description(description: str) -> str:
    """A goods description as a lookup key (case and spacing ignored)."""
    return " ".join(description.lower().split())
