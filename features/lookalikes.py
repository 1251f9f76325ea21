"""The commodity substitution list, shipped as data: which higher-duty goods an HS code is used to hide.

The table (``data/lookalikes_zk.csv``, one row per declared HS-6 code) lists, for a
code, the HS-6 codes of the higher-duty goods customs knows to be declared under it
(a look-alike with a lower rate). The look-alike price check compares a line's unit
value with those codes' price norms (:func:`zeikan.features.definitions.price_probes`).

>>> LOOKALIKES.may_hide("64041900")
('640299', '640399')
>>> LOOKALIKES.may_hide("999999")
()
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib.resources import files

LOOKALIKES_FILE = "lookalikes_zk.csv"


@dataclass(frozen=True)
class Lookalikes:
    """Declared HS-6 code -> the HS-6 codes of goods it may hide."""

    hides: dict[str, tuple[str, ...]]

    def may_hide(self, hs_code: str) -> tuple[str, ...]:
        """The HS-6 codes the goods of a line declared under ``hs_code`` may really be (empty when none)."""
        return self.hides.get(hs_code[:6], ())


def read_lookalikes(text: str) -> Lookalikes:
    """Parse a substitution list (CSV ``declared,may_hide``; codes space-separated; ``#`` lines are comments)."""
    rows = csv.DictReader(line for line in text.splitlines() if line and not line.startswith("#"))
    return Lookalikes({row["declared"]: tuple(sorted(row["may_hide"].split())) for row in rows})


LOOKALIKES: Lookalikes = read_lookalikes(
    files("zeikan.features").joinpath("data", LOOKALIKES_FILE).read_text(encoding="utf-8")
)
"""The substitution list the features use."""
