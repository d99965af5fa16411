"""Area codes in the national unit-grid layout.

    city         320400            6-digit GB/T 2260 code ending in "00"
    district     320402            6-digit GB/T 2260 code inside the city
    subdistrict  320402 001        district code + 3 digits
    community    320402 001 002    subdistrict code + 3 digits
    grid         320402 001 002 003   community code + 3 digits (15 digits)

GB/T 2260 codes are province (2) + prefecture (2) + county (2) digits, and
trailing "00" pairs mean "this level": a prefecture-level city 320400 holds
districts 3204xx; a municipality such as 110000 holds 11xxxx.
"""

from __future__ import annotations

import re

LENGTH_BY_LEVEL = {1: 6, 2: 6, 3: 9, 4: 12, 5: 15}
SEQUENCE_DIGITS = 3

_DIGITS = re.compile(r"^[0-9]+$")


class CodeError(ValueError):
    """A code that does not fit its level or its parent."""


def city_prefix(city_code: str) -> str:
    """The significant digits of a city's division code: 320400 -> 3204."""
    prefix = city_code
    while prefix.endswith("00") and len(prefix) > 2:
        prefix = prefix[:-2]
    return prefix


LEVEL_NAMES = {1: "city", 2: "district", 3: "subdistrict", 4: "community", 5: "grid"}


def check_format(level: int, code: str) -> None:
    """Raise CodeError when ``code`` cannot be a code at ``level`` whatever its parent."""
    expected = LENGTH_BY_LEVEL.get(level)
    if expected is None:
        raise CodeError(f"unknown level {level!r}")
    if not code or not _DIGITS.fullmatch(code):
        raise CodeError(f"code {code!r} must be digits only")
    if len(code) != expected:
        others = [LEVEL_NAMES[lv] for lv, n in LENGTH_BY_LEVEL.items() if n == len(code)]
        if others:
            raise CodeError(
                f"wrong level: {code} has the {len(code)} digits of a {' or '.join(others)} "
                f"code, but the level given is {LEVEL_NAMES[level]} ({expected} digits)"
            )
        raise CodeError(f"code {code!r} must be {expected} digits at this level")


def check_code(level: int, code: str, parent_code: str | None) -> None:
    """Raise CodeError when ``code`` is not a valid code at ``level`` under
    ``parent_code`` (None for a city)."""
    check_format(level, code)
    if level == 1:
        if not code.endswith("00") or code.startswith("0"):
            raise CodeError(f"city code {code!r} must be a GB/T 2260 code ending in 00")
        return
    if parent_code is None:
        raise CodeError("only a city may have no parent")
    if level == 2:
        prefix = city_prefix(parent_code)
        if not code.startswith(prefix) or code == parent_code or code.endswith("00"):
            raise CodeError(
                f"district code {code!r} must be a GB/T 2260 code inside city {parent_code}"
            )
        return
    if not code.startswith(parent_code):
        raise CodeError(f"code {code!r} must start with its parent's code {parent_code}")
    if code[-SEQUENCE_DIGITS:] == "000":
        raise CodeError(f"code {code!r}: the sequence number 000 is not allowed")


def parent_code_of(level: int, code: str) -> str | None:
    """The parent's code implied by ``code`` for subdistricts, communities and
    grids; None where the code alone does not say (cities, districts)."""
    if level >= 3 and len(code) == LENGTH_BY_LEVEL[level]:
        return code[: LENGTH_BY_LEVEL[level - 1]]
    return None


def candidate_city_codes(district_code: str) -> list[str]:
    """Cities a district code may belong to, most specific first."""
    return [district_code[:4] + "00", district_code[:2] + "0000"]


def path_ids(path: str) -> list[int]:
    """'/1/8/70/' -> [1, 8, 70]."""
    return [int(part) for part in path.strip("/").split("/") if part]
