"""Named value transforms that mapping files refer to (`transform: date`, `{pad: 3}`, ...).

A transform is a plain function `fn(value, *args, **kwargs)`. The engine never passes it null (empty strings are
null too), and a transform may return null. A value it cannot convert raises `TransformError` whose message must
not contain the value: agency values are personal data and error messages end up in logs.
Numbers that must stay exact (NIK, card numbers, amounts) are never accepted as floats: a 16-digit NIK that went
through a float has already lost digits.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any


class TransformError(ValueError):
    """A value a transform cannot convert (message without the value), or bad transform arguments."""


Transform = Callable[..., Any]
TRANSFORMS: dict[str, Transform] = {}
"""Transform name → function. Mapping files may only name transforms registered here."""
ARG_CHECKS: dict[str, Callable[..., None]] = {}
"""Transform name → function checking its arguments when a mapping is loaded (raise TransformError)."""

_DIGITS = re.compile(r"[0-9]+")
_SIGNED_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
SPACES = re.compile(r"\s+")


def register_transform(name: str, fn: Transform, check: Callable[..., None] | None = None) -> Transform:
    """Add a transform (e.g. from an out-of-tree connector); re-registering a name to another function is an error."""
    existing = TRANSFORMS.get(name)
    if existing is not None and existing is not fn:
        raise ValueError(f"transform {name!r} is already registered")
    TRANSFORMS[name] = fn
    if check is not None:
        ARG_CHECKS[name] = check
    return fn


def transform(name: str, check: Callable[..., None] | None = None) -> Callable[[Transform], Transform]:
    """Decorator form of `register_transform` for the built-ins below."""

    def decorate(fn: Transform) -> Transform:
        return register_transform(name, fn, check)

    return decorate


def kind_of(value: Any) -> str:
    """The type name of a value, for error messages that must not show the value itself."""
    return type(value).__name__


def text_of(value: Any, what: str) -> str:
    """Text of a string or an int (ints render exactly); anything else, floats above all, is an error."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TransformError(f"{what}: expected text, got {kind_of(value)}")


# --- text -------------------------------------------------------------------------------------------------------


@transform("strip")
def strip(value: Any) -> str | None:
    """Trim surrounding whitespace; blank becomes null."""
    return text_of(value, "strip").strip() or None


@transform("upper")
def upper(value: Any) -> str | None:
    """Trim and upper-case."""
    return text_of(value, "upper").strip().upper() or None


@transform("name")
def name(value: Any) -> str | None:
    """Registry spelling of a name or any free text: upper-case, inner whitespace collapsed, trimmed."""
    return SPACES.sub(" ", text_of(value, "name")).strip().upper() or None


def _check_null_if(values: Any) -> None:
    if not isinstance(values, list | tuple):
        raise TransformError("null_if: expects a list of values")


@transform("null_if", check=_check_null_if)
def null_if(value: Any, values: Iterable[Any]) -> Any:
    """Null for placeholder values an agency uses for "unknown" (`-`, `0`), compared as trimmed text."""
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else None
    if text is not None and any(text == str(v).strip() for v in values):
        return None
    return value


def _check_join(sep: Any = " ") -> None:
    if not isinstance(sep, str):
        raise TransformError("join: the separator must be text")


@transform("join", check=_check_join)
def join(values: Any, sep: str = " ") -> str | None:
    """Join several source values (a list `from`) into one text, skipping nulls."""
    if not isinstance(values, list | tuple):
        values = [values]
    parts = [text_of(v, "join").strip() for v in values if v is not None]
    return sep.join(p for p in parts if p) or None


# --- exact numbers ----------------------------------------------------------------------------------------------


def _check_length(length: Any = None) -> None:
    if length is not None and (not isinstance(length, int) or isinstance(length, bool) or length < 1):
        raise TransformError("digits_exact: length must be a positive integer")


@transform("digits_exact", check=_check_length)
def digits_exact(value: Any, length: int | None = None) -> str:
    """An identifier made of digits (NIK, KK, card number) as text, exactly; never via float."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TransformError(f"digits_exact: expected an integer or digit string, got {kind_of(value)}")
    if isinstance(value, int):
        if value < 0:
            raise TransformError("digits_exact: negative number")
        text = str(value)
    else:
        text = value.strip()
        if not _DIGITS.fullmatch(text):
            raise TransformError("digits_exact: not a string of digits 0-9")
    if length is not None and len(text) != length:
        raise TransformError(f"digits_exact: expected {length} digits, got {len(text)}")
    return text


def _check_pad(width: Any) -> None:
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise TransformError("pad: width must be a positive integer")


@transform("pad", check=_check_pad)
def pad(value: Any, width: int) -> str:
    """Zero-pad a number to `width` digits (RT/RW "5" or 5 → "005"); a longer number is an error."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TransformError(f"pad: expected an integer or digit string, got {kind_of(value)}")
    text = str(value).strip()
    if not _DIGITS.fullmatch(text):
        raise TransformError("pad: not a non-negative whole number")
    text = text.lstrip("0") or "0"
    if len(text) > width:
        raise TransformError(f"pad: more than {width} digits")
    return text.zfill(width)


@transform("int")
def to_int(value: Any) -> int:
    """An integer from an int or a digit string (optional sign); floats are rejected, not truncated."""
    if isinstance(value, bool):
        raise TransformError("int: expected an integer, got bool")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _SIGNED_INT.fullmatch(value.strip()):
        return int(value.strip())
    raise TransformError(f"int: expected an integer or digit string, got {kind_of(value)}")


@transform("decimal")
def to_decimal(value: Any) -> Decimal:
    """An exact amount from a plain decimal string ("150000.00") or an int; floats are rejected."""
    if isinstance(value, bool):
        raise TransformError("decimal: expected an amount, got bool")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TransformError("decimal: not a finite amount")
        return value
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the pattern already guarantees a valid literal
            pass
    raise TransformError(f"decimal: expected a decimal string or integer, got {kind_of(value)}")


_TRUE = {"TRUE", "1", "Y", "YA", "YES", "T"}
_FALSE = {"FALSE", "0", "N", "TIDAK", "NO", "F"}


@transform("bool")
def to_bool(value: Any) -> bool:
    """A flag from true/false, 1/0, Y/N, YA/TIDAK, T/F (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | str):
        text = str(value).strip().upper()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise TransformError("bool: not a recognised yes/no value")


# --- dates ------------------------------------------------------------------------------------------------------

DEFAULT_DATE_FORMATS: tuple[str, ...] = ("%d.%m.%Y", "%d-%b-%y", "%Y-%m-%d", "%d-%m-%Y", "%Y/%m/%d")
"""15.05.1985, 15-MAY-85, 1985-05-15, 15-05-1985, 1985/05/15: the formats Dukcapil gateways are known to use."""

_ID_MONTHS = {
    "PEB": "FEB",
    "MEI": "MAY",
    "AGU": "AUG",
    "AGT": "AUG",
    "AGS": "AUG",
    "OKT": "OCT",
    "NOP": "NOV",
    "DES": "DEC",
}
_MONTH_WORD = re.compile(r"[A-Za-z]+")


def _today() -> dt.date:
    """Today's date, for the two-digit-year rule (a function so tests can fix it)."""
    return dt.date.today()


def _check_date(formats: Any = None, today: Any = None) -> None:
    if formats is not None and (
        not isinstance(formats, list | tuple) or not formats or not all(isinstance(f, str) for f in formats)
    ):
        raise TransformError("date: formats must be a non-empty list of strptime patterns")
    if today is not None:
        raise TransformError("date: today cannot be set in a mapping file")


def _english_month(text: str) -> str:
    """Indonesian month abbreviations (MEI, AGU, OKT, DES ...) → English ones, so `%b` reads both."""
    return _MONTH_WORD.sub(lambda m: _ID_MONTHS.get(m.group().upper()[:3], m.group()), text)


def _century(parsed: dt.date, today: dt.date) -> dt.date:
    """Two-digit year: 20YY unless that date is in the future, then 19YY (what was born or issued is past)."""
    yy = parsed.year % 100
    for year in (2000 + yy, 1900 + yy):
        try:
            candidate = parsed.replace(year=year)
        except ValueError:  # 29 February 00: a leap day in 2000 only
            continue
        if year < 2000 or candidate <= today:
            return candidate
    raise TransformError("date: no valid century for a two-digit year")


@transform("date", check=_check_date)
def to_date(value: Any, formats: Iterable[str] | None = None, today: dt.date | None = None) -> dt.date:
    """A calendar date from the formats agencies use; two-digit years follow `_century`."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise TransformError(f"date: expected text, got {kind_of(value)}")
    text = _english_month(value.strip())
    for fmt in formats or DEFAULT_DATE_FORMATS:
        try:
            parsed = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        # strptime's %y follows POSIX (69-99 → 19YY); choose the century ourselves
        return _century(parsed, today or _today()) if "%y" in fmt else parsed
    raise TransformError("date: not in any accepted format")


# The code-table transforms (sex, religion, marital, blood_type, code, region_code) register from their own module.
from mappings import codes  # noqa: E402, F401
