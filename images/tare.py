"""Container tare from its ISO 6346 size and type code (e.g. ``22G1``, ``45R1``).

The first character is the length (``2`` = 20 ft, ``4`` = 40 ft, ``L`` = 45 ft),
the second the height (``2`` = 8'6", ``5`` = 9'6" high cube), the third the type
group (``G`` general, ``R`` reefer, ``U`` open top, ``T`` tank, ``P`` platform).
The tares are typical values of steel boxes of that size and type; a manifest's
own tare always wins over them.
"""

from __future__ import annotations

TYPICAL_TARE_KG: dict[tuple[str, str], float] = {
    ("2", "G"): 2250.0, ("2", "R"): 3050.0, ("2", "U"): 2350.0, ("2", "T"): 3650.0, ("2", "P"): 2750.0,
    ("4", "G"): 3750.0, ("4", "R"): 4800.0, ("4", "U"): 3950.0, ("4", "T"): 4800.0, ("4", "P"): 5000.0,
    ("L", "G"): 4800.0, ("L", "R"): 5200.0,
}
"""(length code, type group) -> typical tare (kg) of an 8'6" box."""
HIGH_CUBE_EXTRA_KG = 150.0
"""added for a 9'6" (height code 5) box"""


def tare_kg(size_type: str) -> float | None:
    """Typical tare of a container with this ISO 6346 size/type code, or None if the code is unknown.

    >>> tare_kg("22G1"), tare_kg("45G1"), tare_kg("XX")
    (2250.0, 3900.0, None)
    """
    code = size_type.strip().upper()
    if len(code) != 4:
        return None
    base = TYPICAL_TARE_KG.get((code[0], code[2]))
    if base is None:
        return None
    return base + (HIGH_CUBE_EXTRA_KG if code[1] == "5" else 0.0)
