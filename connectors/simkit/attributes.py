"""What the synthetic population's people are besides their names and places: birth dates within the years the
NIK can encode, occupations and education that follow age and sex, blood types, in the proportions of Dukcapil's
own value lists.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Sequence
from typing import Literal

from connectors.simkit.names import Sex

BIRTH_FIRST = datetime.date(1945, 1, 1)
BIRTH_LAST = datetime.date(2008, 12, 31)
REFERENCE_YEAR = 2025  # ages (occupation, education) are judged as of this year, not today: keeps output stable
OCCUPATIONS_M = (
    ("KARYAWAN SWASTA", 30),
    ("WIRASWASTA", 20),
    ("BURUH HARIAN LEPAS", 10),
    ("PETANI/PEKEBUN", 10),
    ("PEDAGANG", 7),
    ("PEGAWAI NEGERI SIPIL (PNS)", 6),
    ("SOPIR", 4),
    ("GURU", 3),
    ("TENTARA NASIONAL INDONESIA (TNI)", 2),
    ("KEPOLISIAN RI (POLRI)", 2),
    ("NELAYAN/PERIKANAN", 3),
    ("BELUM/TIDAK BEKERJA", 3),
)
OCCUPATIONS_F = (
    ("MENGURUS RUMAH TANGGA", 35),
    ("KARYAWAN SWASTA", 20),
    ("WIRASWASTA", 12),
    ("PEDAGANG", 8),
    ("GURU", 6),
    ("PEGAWAI NEGERI SIPIL (PNS)", 5),
    ("PERAWAT", 3),
    ("BURUH HARIAN LEPAS", 5),
    ("PETANI/PEKEBUN", 6),
)
OCCUPATIONS_YOUNG = (("PELAJAR/MAHASISWA", 78), ("BELUM/TIDAK BEKERJA", 10), ("KARYAWAN SWASTA", 12))
OCCUPATIONS_OLD = (
    ("PENSIUNAN", 25),
    ("PETANI/PEKEBUN", 20),
    ("WIRASWASTA", 15),
    ("BELUM/TIDAK BEKERJA", 20),
    ("PEDAGANG", 10),
    ("MENGURUS RUMAH TANGGA", 10),
)
HIGHER_EDU_JOBS = {"PEGAWAI NEGERI SIPIL (PNS)", "GURU", "PERAWAT"}
EDUCATION_OLD = (
    ("TAMAT SD/SEDERAJAT", 40),
    ("TIDAK/BELUM SEKOLAH", 12),
    ("BELUM TAMAT SD/SEDERAJAT", 12),
    ("SLTP/SEDERAJAT", 16),
    ("SLTA/SEDERAJAT", 15),
    ("DIPLOMA IV/STRATA I", 5),
)
EDUCATION_MID = (
    ("TAMAT SD/SEDERAJAT", 18),
    ("SLTP/SEDERAJAT", 22),
    ("SLTA/SEDERAJAT", 38),
    ("DIPLOMA I/II", 3),
    ("AKADEMI/DIPLOMA III/S. MUDA", 6),
    ("DIPLOMA IV/STRATA I", 11),
    ("STRATA II", 1.5),
    ("STRATA III", 0.5),
)
EDUCATION_HIGH = (("AKADEMI/DIPLOMA III/S. MUDA", 30), ("DIPLOMA IV/STRATA I", 60), ("STRATA II", 10))
BLOOD = (("O", 22), ("A", 15), ("B", 17), ("AB", 4), ("TIDAK TAHU", 42))


def weighted(rng: random.Random, pairs: Sequence[tuple[str, float]]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def date_between(rng: random.Random, first: datetime.date, last: datetime.date) -> datetime.date:
    last = max(last, first)
    return datetime.date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))


def add_years(
    date: datetime.date, years: int, *, leap_day: Literal["28 February", "1 March"] = "28 February"
) -> datetime.date:
    """The same day `years` later (a coming of age, a validity period); 29 February falls on `leap_day` in a
    common year."""
    try:
        return date.replace(year=date.year + years)
    except ValueError:  # 29 February into a common year
        return datetime.date(date.year + years, *((2, 28) if leap_day == "28 February" else (3, 1)))


def clamp_birth(date: datetime.date) -> datetime.date:
    return min(max(date, BIRTH_FIRST), BIRTH_LAST)


def occupation(rng: random.Random, sex: Sex, born: int) -> str:
    age = REFERENCE_YEAR - born
    if age < 23:
        return weighted(rng, OCCUPATIONS_YOUNG)
    if age >= 60:
        return weighted(rng, [o for o in OCCUPATIONS_OLD if sex == "P" or o[0] != "MENGURUS RUMAH TANGGA"])
    return weighted(rng, OCCUPATIONS_M if sex == "L" else OCCUPATIONS_F)


def education(rng: random.Random, occupation: str, born: int) -> str:
    if occupation in HIGHER_EDU_JOBS:
        return weighted(rng, EDUCATION_HIGH)
    if occupation == "PELAJAR/MAHASISWA":
        return "SLTA/SEDERAJAT"
    return weighted(rng, EDUCATION_OLD if born < 1965 else EDUCATION_MID)
