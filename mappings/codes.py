"""The transforms that read agencies' codes and labels: sex, religion, marital status, blood type, a table from
the mapping file, and Kemendagri region codes.

Why apart from `mappings.transforms`: these are tables of what the agencies write, which grow with every agency;
the text, number and date transforms there are generic. Both register in the one `TRANSFORMS` registry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mappings.transforms import SPACES, TransformError, kind_of, pad, text_of, transform

_MISSING: Any = object()


def _lookup(table: Mapping[str, Any], value: Any, what: str) -> Any:
    key = SPACES.sub(" ", text_of(value, what)).strip().upper()
    try:
        return table[key]
    except KeyError:
        raise TransformError(f"{what}: not a known value") from None


_SEX = {
    "LAKI-LAKI": "L",
    "LAKI LAKI": "L",
    "L": "L",
    "PRIA": "L",
    "1": "L",
    "PEREMPUAN": "P",
    "P": "P",
    "WANITA": "P",
    "2": "P",
}


@transform("sex")
def sex(value: Any) -> str:
    """Registry sex labels and codes → "L" / "P"."""
    return _lookup(_SEX, value, "sex")


_RELIGION = {
    "ISLAM": "islam",
    "KRISTEN": "protestant",
    "KRISTEN PROTESTAN": "protestant",
    "PROTESTAN": "protestant",
    "KATOLIK": "catholic",
    "KATHOLIK": "catholic",
    "KRISTEN KATOLIK": "catholic",
    "HINDU": "hindu",
    "BUDHA": "buddhist",
    "BUDDHA": "buddhist",
    "KONGHUCU": "confucian",
    "KHONGHUCU": "confucian",
    "KONG HU CU": "confucian",
}


@transform("religion")
def religion(value: Any) -> str:
    """Dukcapil religion labels → `identity.model.Religion` values; any KEPERCAYAAN... is `belief`."""
    key = SPACES.sub(" ", text_of(value, "religion")).strip().upper()
    if key.startswith("KEPERCAYAAN"):
        return "belief"
    return _lookup(_RELIGION, key, "religion")


_MARITAL = {
    "BELUM KAWIN": "single",
    "KAWIN": "married",
    "KAWIN TERCATAT": "married",
    "KAWIN BELUM TERCATAT": "married",
    "CERAI HIDUP": "divorced",
    "CERAI HIDUP TERCATAT": "divorced",
    "CERAI HIDUP BELUM TERCATAT": "divorced",
    "CERAI MATI": "widowed",
}


@transform("marital")
def marital(value: Any) -> str:
    """Dukcapil marital status labels → `identity.model.MaritalStatus` values."""
    return _lookup(_MARITAL, value, "marital")


_BLOOD = re.compile(r"(AB|A|B|O)[+-]?")


@transform("blood_type")
def blood_type(value: Any) -> str | None:
    """A, B, AB, O with an optional rhesus sign; "TIDAK TAHU" or "-" (unknown) → null."""
    text = SPACES.sub("", text_of(value, "blood_type")).upper()
    if text in {"TIDAKTAHU", "-", ""}:
        return None
    if not _BLOOD.fullmatch(text):
        raise TransformError("blood_type: not a known blood type")
    return text


def _check_code(table: Any, default: Any = _MISSING) -> None:
    if not isinstance(table, Mapping) or not table:
        raise TransformError("code: table must be a non-empty mapping")
    bad = [k for k in table if not isinstance(k, str)]
    if bad:
        raise TransformError(
            f"code: table keys must be quoted strings (YAML read {len(bad)} key(s) as "
            f"{', '.join(sorted({kind_of(k) for k in bad}))}, e.g. 01 as 1 or NO as false)"
        )
    keys = [k.strip().upper() for k in table]
    if len(set(keys)) != len(keys):
        raise TransformError("code: table has keys that differ only in case or spaces")


@transform("code", check=_check_code)
def code(value: Any, table: Mapping[str, Any], default: Any = _MISSING) -> Any:
    """Look an agency code up in a table from the mapping file; unknown → `default` if given, else an error."""
    key = text_of(value, "code").strip().upper()
    for k, v in table.items():
        if k.strip().upper() == key:
            return v
    if default is _MISSING:
        raise TransformError("code: not in the table")
    return default


_REGION_WIDTHS = (2, 2, 2, 4)  # province, regency/city, district, village (Kemendagri)


@transform("region_code")
def region_code(value: Any) -> str | None:
    """Dotted Kemendagri code from its parts ([32, 76, 1, 1001] → "32.76.01.1001"), or one dotted code normalised."""
    if isinstance(value, str) and "." in value:
        parts: list[Any] = value.strip().split(".")
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        parts = [value]
    if not 1 <= len(parts) <= len(_REGION_WIDTHS):
        raise TransformError(f"region_code: expected 1 to {len(_REGION_WIDTHS)} parts, got {len(parts)}")
    if any(p is None for p in parts):
        return None
    out = []
    for level, (part, width) in enumerate(zip(parts, _REGION_WIDTHS, strict=False), start=1):
        try:
            out.append(pad(part, width))
        except TransformError:
            raise TransformError(f"region_code: part {level} is not a number of at most {width} digits") from None
    return ".".join(out)
