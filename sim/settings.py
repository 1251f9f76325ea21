"""Settings of one simulation run (validated, frozen; read from CLI flags at the edge)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from zeikan.sim.errors import SimSettingError

MAX_PER_DAY = 200_000
FRAUD_KINDS: tuple[str, ...] = ("UNDERVALUATION", "MISDECLARED_GOODS", "QUANTITY", "WEIGHT", "ORIGIN", "CONCEALMENT")
"""Fraud kinds; bit ``i`` of a kinds mask is ``FRAUD_KINDS[i]`` (names match the Avro FindingKind enum)."""


@dataclass(frozen=True)
class SimSettings:
    """What to simulate. Equal settings always produce byte-identical files."""

    seed: int = 0
    days: int = 7
    per_day: int = 2000
    """Declarations filed per day."""
    fraud_rate: float = 0.05
    """Target share of fraudulent declarations (realised rate varies a little)."""
    start: date = date(2026, 1, 1)
    n_importers: int = 4000
    n_declarants: int = 300
    n_networks: int = 6
    """Collusive networks (one declarant serving several fraudulent importers)."""
    mechanisms: tuple[str, ...] = FRAUD_KINDS
    """Fraud kinds the world's fraudsters use (a world variant switches some off)."""
    kind_weights: tuple[float, ...] = (0.30, 0.16, 0.14, 0.08, 0.60, 0.20)
    """Relative frequency of each kind of ``FRAUD_KINDS`` where it is possible."""
    drift_day: int | None = None
    """From this day on the fraud changes: other importers turn fraudulent and the kind mix is reversed."""

    def __post_init__(self) -> None:
        checks = (
            ("seed", self.seed, 0 <= self.seed < 2**63, "0 <= seed < 2**63"),
            ("days", self.days, 1 <= self.days <= 3660, "1..3660"),
            ("per_day", self.per_day, 1 <= self.per_day <= MAX_PER_DAY, f"1..{MAX_PER_DAY}"),
            ("fraud_rate", self.fraud_rate, 0.0 < self.fraud_rate <= 0.5, "0 < fraud_rate <= 0.5"),
            ("n_importers", self.n_importers, self.n_importers >= 100, ">= 100"),
            ("n_declarants", self.n_declarants, self.n_declarants >= 2 * self.n_networks, ">= 2 x n_networks"),
            ("n_networks", self.n_networks, self.n_networks >= 0, ">= 0"),
            ("mechanisms", self.mechanisms, bool(self.mechanisms) and set(self.mechanisms) <= set(FRAUD_KINDS),
             f"a non-empty subset of {', '.join(FRAUD_KINDS)}"),
            ("kind_weights", self.kind_weights,
             len(self.kind_weights) == len(FRAUD_KINDS) and min(self.kind_weights) >= 0, "one weight >= 0 per kind"),
            ("drift_day", self.drift_day, self.drift_day is None or self.drift_day >= 1, ">= 1"),
        )
        for name, value, ok, allowed in checks:
            if not ok:
                raise SimSettingError(name, value, allowed)

    def day_start_ms(self, day: int) -> int:
        """Epoch-millis (UTC) of midnight starting simulated day ``day`` (0 = start date)."""
        start = datetime(self.start.year, self.start.month, self.start.day, tzinfo=timezone.utc)
        return int(start.timestamp()) * 1000 + day * 86_400_000
