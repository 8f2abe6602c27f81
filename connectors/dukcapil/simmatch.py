"""How the Dukcapil simulator judges a verify claim against what it holds: exact fields, dates in four formats,
sex in its spellings, numbers without leading zeros, and difflib similarity × 100 against TRESHOLD for the fuzzy
ones (names, place, address)."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from typing import Any

from connectors.dukcapil.simdata import NUMERIC_FIELDS
from connectors.simkit.population import Person

FUZZY_FIELDS = frozenset({"NAMA_LGKP", "ALAMAT", "TMPT_LHR", "NAMA_LGKP_AYAH", "NAMA_LGKP_IBU"})
_PUNCT = re.compile(r"[^0-9A-Z ]+")
_SPACES = re.compile(r"\s+")


def _text(value: Any) -> str:
    return _SPACES.sub(" ", str(value).upper()).strip()


def _loose(value: Any) -> str:
    return _SPACES.sub(" ", _PUNCT.sub(" ", _text(value))).strip()


def parse_claimed_date(value: Any) -> dt.date | None:
    text = _text(value)
    for pattern in ("%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            pass
    return None


def _sex(value: Any) -> str | None:
    text = _loose(value)
    return {"L": "L", "LAKI LAKI": "L", "LAKI": "L", "PRIA": "L", "P": "P", "PEREMPUAN": "P", "WANITA": "P"}.get(text)


def similarity(a: Any, b: Any) -> int:
    """0–100, difflib's ratio of the two texts after normalisation."""
    return round(difflib.SequenceMatcher(None, _loose(a), _loose(b)).ratio() * 100)


def verdict(field_name: str, claimed: Any, held: Any, person: Person, threshold: int) -> str:
    if field_name in FUZZY_FIELDS:
        score = similarity(claimed, held)
        return f"{'Sesuai' if score >= threshold else 'Tidak Sesuai'} ({score})"
    if field_name == "TGL_LHR":
        same = parse_claimed_date(claimed) == person.birth_date
    elif field_name == "JENIS_KLMIN":
        same = _sex(claimed) == person.sex
    elif field_name in NUMERIC_FIELDS:
        a, b = _text(claimed), _text(held if held is not None else "")
        same = a.isdigit() and b.isdigit() and int(a) == int(b)
    else:
        same = held is not None and _loose(claimed) == _loose(held)
    return "Sesuai" if same else "Tidak Sesuai"
