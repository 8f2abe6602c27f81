"""What the Dukcapil simulator holds of a person, in the field sets and number and date shapes the public samples
show (see simulator.py): a found CALL_NIK item has no response code, numbers as JSON numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from connectors.simkit.population import Person, Population

DateFormat = Literal["dotted", "iso"]
FieldSet = Literal["full", "short", "foto"]

FULL_FIELDS = (
    "NIK",
    "NO_KK",
    "NAMA_LGKP",
    "JENIS_KLMIN",
    "TMPT_LHR",
    "TGL_LHR",
    "NO_AKTA_LHR",
    "ALAMAT",
    "NO_RT",
    "NO_RW",
    "KEL_NAME",
    "NO_KEL",
    "KEC_NAME",
    "NO_KEC",
    "KAB_NAME",
    "NO_KAB",
    "PROP_NAME",
    "NO_PROP",
    "KODE_POS",
    "DUSUN",
    "AGAMA",
    "GOL_DARAH",
    "JENIS_PKRJN",
    "PDDK_AKH",
    "STATUS_KAWIN",
    "TGL_KWN",
    "NO_AKTA_KWN",
    "STAT_HBKEL",
    "TGL_CRAI",
    "NO_AKTA_CRAI",
    "PNYDNG_CCT",
    "NAMA_LGKP_AYAH",
    "NAMA_LGKP_IBU",
    "EKTP_STATUS",
)
SHORT_FIELDS = (
    "NO_KK",
    "NIK",
    "NAMA_LGKP",
    "KAB_NAME",
    "AGAMA",
    "NAMA_LGKP_AYAH",
    "NO_RW",
    "KEC_NAME",
    "JENIS_PKRJN",
    "NO_RT",
    "ALAMAT",
    "TMPT_LHR",
    "PDDK_AKH",
    "STATUS_KAWIN",
    "NAMA_LGKP_IBU",
    "PROP_NAME",
    "GOL_DARAH",
    "KEL_NAME",
    "JENIS_KLMIN",
    "TGL_LHR",
)
FOTO_FIELDS = (
    "NAMA_LGKP",
    "AGAMA",
    "JENIS_PKRJN",
    "PDDK_AKH",
    "TMPT_LHR",
    "STATUS_KAWIN",
    "GOL_DARAH",
    "JENIS_KLMIN",
    "NIK",
    "NO_KK",
    "KAB_NAME",
    "NO_RW",
    "KEC_NAME",
    "NO_RT",
    "NO_KEL",
    "ALAMAT",
    "NO_KEC",
    "NO_PROP",
    "PROP_NAME",
    "NO_KAB",
    "TGL_LHR",
    "KEL_NAME",
    "FOTO",
)
FIELD_SETS: dict[str, tuple[str, ...]] = {"full": FULL_FIELDS, "short": SHORT_FIELDS, "foto": FOTO_FIELDS}
SHAPE_DATES: dict[str, DateFormat] = {"full": "dotted", "short": "iso", "foto": "iso"}
#: a 1×1 JPEG: the shape of the FOTO some gateways add, without anyone's face
FOTO = (
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0"
    "Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8A"
    "Kp//2Q=="
)
NUMERIC_FIELDS = frozenset({"NIK", "NO_KK", "NO_RT", "NO_RW", "NO_KEL", "NO_KEC", "NO_KAB", "NO_PROP", "KODE_POS"})


# --- rendering a person ------------------------------------------------------------------------------------------
def format_date(date: dt.date, date_format: DateFormat) -> str:
    if date_format == "dotted":
        return f"{date.day:02d}.{date.month:02d}.{date.year:04d}"
    return date.isoformat()


def _number(text: str | None) -> int | None:
    """A code or number the gateway sends as a JSON number ("007" → 7); None stays None."""
    return int(text) if text is not None and str(text).strip().isdigit() else None


def shape_of(population: Population, person: Person, field_sets: tuple[str, ...]) -> str:
    """Which field set this gateway answers for this person (fixed per person and seed)."""
    if len(field_sets) == 1:
        return field_sets[0]
    quirks = population.rng(person, "dukcapil-shape")
    return field_sets[int(quirks.random() * len(field_sets))]


def person_fields(
    population: Population, person: Person, date_format: DateFormat | None = None, shape: str = "full"
) -> dict[str, Any]:
    """The person as a found CALL_NIK item of the given field set: no response code, numbers as JSON numbers."""
    quirks = population.rng(person, "dukcapil")
    name_pad = " " * quirks.choice((1, 1, 2, 3)) if quirks.random() < 0.35 else ""
    parents_pad = " " if shape == "full" else ""
    _, regency, district, village = person.village_code.split(".")
    foto = shape == "foto"
    every = {
        "NIK": int(person.nik),
        "NO_KK": int(person.kk_number),
        "NAMA_LGKP": person.name.title() if foto else person.name + name_pad,
        "JENIS_KLMIN": ("Laki-Laki" if foto else "LAKI-LAKI")
        if person.sex == "L"
        else ("Perempuan" if foto else "PEREMPUAN"),
        "TMPT_LHR": person.birth_place,
        "TGL_LHR": format_date(person.birth_date, date_format or SHAPE_DATES[shape]),
        "NO_AKTA_LHR": person.birth_certificate_no,
        "ALAMAT": person.street,
        "NO_RT": _number(person.rt),
        "NO_RW": _number(person.rw),
        "KEL_NAME": person.village,
        "NO_KEL": _number(village),
        "KEC_NAME": person.district,
        "NO_KEC": _number(district),
        "KAB_NAME": person.regency,
        "NO_KAB": _number(regency),
        "PROP_NAME": person.province,
        "NO_PROP": _number(person.province_code),
        "KODE_POS": _number(person.postal_code),
        "DUSUN": person.hamlet,
        "AGAMA": person.religion,
        "GOL_DARAH": person.blood_type,
        "JENIS_PKRJN": person.occupation,
        "PDDK_AKH": person.education,
        "STATUS_KAWIN": person.marital_status,
        "TGL_KWN": None,
        "NO_AKTA_KWN": None,
        "STAT_HBKEL": person.family_role,
        "TGL_CRAI": None,
        "NO_AKTA_CRAI": None,
        "PNYDNG_CCT": None,
        "NAMA_LGKP_AYAH": person.father_name + parents_pad,
        "NAMA_LGKP_IBU": person.mother_name + parents_pad,
        "EKTP_STATUS": person.ektp_status,
        "FOTO": FOTO,
    }
    return {key: every[key] for key in FIELD_SETS[shape]}
