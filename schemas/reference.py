"""Reference data of the contract: ISO 3166 countries, ISO 4217 currencies, HS codes, ISO 6346.

>>> check_container_id("CSQU3054383")
True
>>> container_check_digit("CSQU305438")
3
>>> hs_heading("8517620000")
'8517'
"""

from __future__ import annotations

import re

COUNTRIES: frozenset[str] = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ
EC EE EG EH ER ES ET
FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT
JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
NA NC NE NF NG NI NL NO NP NR NU NZ
OM
PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA
RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
UA UG UM US UY UZ
VA VC VE VG VI VN VU
WF WS
YE YT
ZA ZM ZW
""".split())
"""The 249 officially assigned ISO 3166-1 alpha-2 country codes."""

CURRENCIES: frozenset[str] = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD
EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD
IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN
PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP
STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED
VES VND VUV WST XAF XCD XCG XDR XOF XPF XSU XUA YER ZAR ZMW ZWG ZWL
""".split())
"""ISO 4217 List One codes in use (incl. fund codes and codes in a changeover such as
ANG→XCG, SLL→SLE, ZWL→ZWG); precious metals, bond units, XTS (test) and XXX (none) excluded."""

_CONTAINER_ID = re.compile(r"[A-Z]{3}[UJZ][0-9]{7}")
_OWNER_SERIAL = re.compile(r"[A-Z]{4}[0-9]{6}")
_HS_CODE = re.compile(r"[0-9]{6,10}")



def _letter_values() -> dict[str, int]:
    """ISO 6346 letter values: A=10 upward, skipping multiples of 11 (11, 22, 33)."""
    values: dict[str, int] = {}
    value = 10
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if value % 11 == 0:
            value += 1
        values[letter] = value
        value += 1
    return values


ISO6346_LETTER_VALUES = _letter_values()
"""ISO 6346 numeric value of each letter of an owner code or category."""


def container_check_digit(owner_serial10: str) -> int:
    """ISO 6346 check digit of owner code + category + serial (10 characters, e.g. ``CSQU305438``).

    A remainder of 10 maps to 0. Raises ``ValueError`` when the input is not 4 capital
    letters and 6 digits.
    """
    if not _OWNER_SERIAL.fullmatch(owner_serial10):
        raise ValueError(f"{owner_serial10!r} is not 4 capital letters followed by 6 digits")
    total = 0
    for position, char in enumerate(owner_serial10):
        value = ISO6346_LETTER_VALUES[char] if char.isalpha() else int(char)
        total += value << position
    return total % 11 % 10


def check_container_id(cid: str) -> bool:
    """Whether ``cid`` is a valid ISO 6346 container id: owner code, U/J/Z, 6 digits, check digit."""
    if not isinstance(cid, str) or not _CONTAINER_ID.fullmatch(cid):
        return False
    return container_check_digit(cid[:10]) == int(cid[10])


def make_container_id(owner: str, serial: int) -> str:
    """A valid container id from a 4-letter owner code with category (``MSKU``) and a serial."""
    base = f"{owner}{serial:06d}"
    return f"{base}{container_check_digit(base)}"


def is_hs_code(code: str) -> bool:
    """Whether ``code`` is a Harmonized System code of 6 to 10 digits with a real chapter (01-99)."""
    return isinstance(code, str) and bool(_HS_CODE.fullmatch(code)) and code[:2] != "00"


def hs_chapter(code: str) -> str:
    """The 2-digit HS chapter of a code (``"85"``)."""
    return code[:2]


def hs_heading(code: str) -> str:
    """The 4-digit HS heading of a code (``"8517"``)."""
    return code[:4]


def hs_subheading(code: str) -> str:
    """The 6-digit HS subheading, the level shared by every country's tariff (``"851762"``)."""
    return code[:6]
