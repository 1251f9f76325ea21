"""The importing country's customs tariff, shipped as data: HS code -> duty rate per origin.

The table (``data/tariff_zk.csv``, one row per fact) holds MFN rates per HS code,
preference factors for origins with a free-trade agreement and anti-dumping duties
per HS code and origin. The duty a trader owes is the incentive to misdeclare goods
(a look-alike code with a lower rate) or origin (a preferential origin instead of an
anti-dumped one); the features read it through :data:`TARIFF`.

>>> TARIFF.rate("640399", "CN"), TARIFF.rate("640399", "VN"), TARIFF.rate("720851", "CN")
(0.3, 0.12, 0.5)
>>> TARIFF.dumped_origins("72085100"), TARIFF.dumped_origins("640399")
(('CN',), ())
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files

TARIFF_FILE = "tariff_zk.csv"


@dataclass(frozen=True, eq=False)
class Tariff:
    """MFN rates, preferences and anti-dumping duties (lookups by the longest known prefix of an HS code)."""

    mfn: dict[str, float]
    preference: dict[str, float]
    """Origin -> factor on the MFN rate."""
    anti_dumping: dict[str, dict[str, float]]
    """HS code -> origin -> added duty."""
    _heading_max: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for hs, rate in self.mfn.items():
            self._heading_max[hs[:4]] = max(rate, self._heading_max.get(hs[:4], 0.0))

    @lru_cache(maxsize=65536)  # noqa: B019 - the tariff lives as long as the process
    def _code(self, hs_code: str) -> str | None:
        for n in range(len(hs_code), 3, -1):
            if hs_code[:n] in self.mfn:
                return hs_code[:n]
        return None

    def rate(self, hs_code: str, origin: str) -> float:
        """Duty rate owed on ``hs_code`` goods from ``origin`` (0.0 for a code not in the table)."""
        code = self._code(hs_code)
        if code is None:
            return 0.0
        base = self.mfn[code] * self.preference.get(origin, 1.0)
        return round(base + self.anti_dumping.get(code, {}).get(origin, 0.0), 6)

    def worst_rate(self, hs_code: str) -> float:
        """The highest rate the code pays from any origin (MFN plus its largest anti-dumping duty)."""
        code = self._code(hs_code)
        if code is None:
            return 0.0
        return self.mfn[code] + max(self.anti_dumping.get(code, {}).values(), default=0.0)

    def dumped_origins(self, hs_code: str) -> tuple[str, ...]:
        """The origins whose goods of this code pay an anti-dumping duty (sorted; empty when none)."""
        code = self._code(hs_code)
        return tuple(sorted(self.anti_dumping.get(code, {}))) if code is not None else ()

    def heading_max(self, hs_code: str) -> float:
        """The highest MFN rate in the code's HS-4 heading (what a look-alike code could be hiding)."""
        return self._heading_max.get(hs_code[:4], 0.0)


def read_tariff(text: str) -> Tariff:
    """Parse a tariff table (CSV ``kind,hs,origins,rate``; ``#`` lines are comments)."""
    mfn: dict[str, float] = {}
    preference: dict[str, float] = {}
    anti_dumping: dict[str, dict[str, float]] = {}
    rows = csv.DictReader(line for line in text.splitlines() if line and not line.startswith("#"))
    for row in rows:
        rate, origins = float(row["rate"]), row["origins"].split()
        if row["kind"] == "mfn":
            mfn[row["hs"]] = rate
        elif row["kind"] == "preference":
            preference.update(dict.fromkeys(origins, rate))
        elif row["kind"] == "anti_dumping":
            anti_dumping.setdefault(row["hs"], {}).update(dict.fromkeys(origins, rate))
    return Tariff(mfn, preference, anti_dumping)


TARIFF: Tariff = read_tariff(files("zeikan.features").joinpath("data", TARIFF_FILE).read_text(encoding="utf-8"))
"""The tariff the features use."""
