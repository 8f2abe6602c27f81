"""The Samsat simulator's data: who owns which vehicles, plated where, with which tax due, derived per person from
the synthetic population (`population.rng(person, "samsat")`); see simulator.py for what it serves of it."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, replace
from typing import Any

from connectors.samsat.tax_calendar import next_due, on_anniversary
from connectors.simkit.places import bare_regency
from connectors.simkit.population import Person, Population

OWNER_SHARE = 0.50
VARIANT_SHARE = 0.05
DATA_YEAR = 2024  # newest model year: keeps vehicles independent of the calendar
SWDKLLJ = {"R2": 35_000, "R4": 143_000}  # Jasa Raharja contribution, private motorcycle / passenger car
LATE_FINE_PERCENT_PER_MONTH = 2
LATE_FINE_MAX_MONTHS = 24

MOTORCYCLES = (
    ("HONDA", "BEAT", 190_000),
    ("HONDA", "VARIO 125", 260_000),
    ("HONDA", "SCOOPY", 230_000),
    ("HONDA", "PCX 160", 420_000),
    ("YAMAHA", "NMAX", 410_000),
    ("YAMAHA", "MIO M3", 180_000),
    ("YAMAHA", "AEROX 155", 380_000),
    ("SUZUKI", "NEX II", 170_000),
)
CARS = (
    ("TOYOTA", "AVANZA 1.3 G", 2_650_000),
    ("TOYOTA", "INNOVA 2.0 G", 4_900_000),
    ("TOYOTA", "RUSH", 3_600_000),
    ("DAIHATSU", "XENIA", 2_500_000),
    ("DAIHATSU", "SIGRA", 1_700_000),
    ("HONDA", "BRIO", 1_900_000),
    ("HONDA", "HR-V", 4_700_000),
    ("MITSUBISHI", "XPANDER", 3_400_000),
    ("SUZUKI", "ERTIGA", 2_900_000),
)
COLOURS = ("HITAM", "PUTIH", "MERAH", "ABU-ABU", "SILVER", "BIRU")
PLATE_AREAS = {
    "11": "BL",
    "12": "BK",
    "13": "BA",
    "14": "BM",
    "15": "BH",
    "16": "BG",
    "17": "BD",
    "18": "BE",
    "19": "BN",
    "21": "BP",
    "31": "B",
    "32": "D",
    "33": "H",
    "34": "AB",
    "35": "L",
    "36": "A",
    "51": "DK",
    "52": "DR",
    "53": "DH",
    "61": "KB",
    "62": "KH",
    "63": "DA",
    "64": "KT",
    "65": "KU",
    "71": "DB",
    "72": "DN",
    "73": "DD",
    "74": "DT",
    "75": "DM",
    "76": "DC",
    "81": "DE",
    "82": "DG",
}
JABODETABEK = {"32.01", "32.16", "32.71", "32.75", "32.76", "36.03", "36.71", "36.74"}  # plated "B"
SERIES_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


@dataclass(frozen=True)
class Vehicle:
    """One registered vehicle; due dates are computed against a day, everything else is fixed per seed."""

    area: str
    number: str
    series: str
    kind: str  # R2 motorcycle, R4 car
    brand: str
    model: str
    year: int
    colour: str
    anniversary: tuple[int, int]  # month, day of first registration: the PKB falls due on it every year
    arrears_years: int  # 0 normally; 1 for the few who skipped last year's tax
    base_pkb: int

    @property
    def plate(self) -> str:
        return " ".join(p for p in (self.area, self.number, self.series) if p)

    def pkb_due(self, today: dt.date) -> dt.date:
        """The next unpaid due date (`next_due`), a year further back for a vehicle in arrears."""
        return on_anniversary(next_due(today, self.anniversary).year - self.arrears_years, self.anniversary)

    def stnk_until(self, today: dt.date) -> dt.date:
        """STNK runs five years from first registration, renewed in five-year steps."""
        due_year = self.pkb_due(today).year
        first = self.year
        steps = max(1, -(-(due_year - first) // 5))
        return on_anniversary(first + 5 * steps, self.anniversary)

    def pkb(self, today: dt.date) -> int:
        """PKB in whole rupiah: the base falls 2 % per year of age (at most 40 %), rounded down to 100."""
        age = max(0, self.pkb_due(today).year - self.year)
        return self.base_pkb * (100 - min(2 * age, 40)) // 100 // 100 * 100

    def late_fine(self, today: dt.date) -> int:
        """2 % of the PKB per started month overdue, at most 24 months."""
        due = self.pkb_due(today)
        if today <= due:
            return 0
        months = min(
            LATE_FINE_MAX_MONTHS,
            (today.year - due.year) * 12 + today.month - due.month + (1 if today.day > due.day else 0),
        )
        return self.pkb(today) * LATE_FINE_PERCENT_PER_MONTH * max(months, 1) // 100


@dataclass(frozen=True)
class Owner:
    nik: str
    name: str
    vehicles: tuple[Vehicle, ...]
    street: str = ""
    office: str = ""


def bpkb_spelling(name: str, sex: str, rng: random.Random) -> str:
    """The name as a BPKB might carry it: with a pilgrim's title, or with the last name cut to its initial."""
    words = name.split()
    if len(words) >= 2 and rng.random() < 0.5:
        return " ".join(words[:-1] + [words[-1][0]])
    return ("H. " if sex == "L" else "HJ. ") + name


def owner_of(population: Population, person: Person) -> Owner | None:
    """What Samsat holds about `person`, or None when no vehicle is registered to them."""
    rng = population.rng(person, "samsat")
    if rng.random() >= OWNER_SHARE or person.birth_date.year > DATA_YEAR - 17:
        return None
    name = bpkb_spelling(person.name, person.sex, rng) if rng.random() < VARIANT_SHARE else person.name
    count = rng.choices((1, 2, 3), (0.70, 0.22, 0.08))[0]
    area = "B" if person.regency_code in JABODETABEK else PLATE_AREAS.get(person.province_code, "B")
    vehicles = tuple(_vehicle(rng, area, person.birth_date.year + 17) for _ in range(count))
    return Owner(
        nik=person.nik, name=name, vehicles=vehicles, street=person.street, office=bare_regency(person.regency)
    )


def _vehicle(rng: random.Random, area: str, earliest_year: int) -> Vehicle:
    kind = "R2" if rng.random() < 0.72 else "R4"
    brand, model, base = rng.choice(MOTORCYCLES if kind == "R2" else CARS)
    return Vehicle(
        area=area,
        number=str(rng.randint(1, 9999)),
        series="".join(rng.choice(SERIES_LETTERS) for _ in range(rng.choice((1, 2, 2, 3, 3)))),
        kind=kind,
        brand=brand,
        model=model,
        year=rng.randint(max(2008, min(earliest_year, DATA_YEAR)), DATA_YEAR),
        colour=rng.choice(COLOURS),
        anniversary=(rng.randint(1, 12), rng.randint(1, 28)),
        arrears_years=1 if rng.random() < 0.05 else 0,
        base_pkb=base,
    )


class SamsatState:
    """Owners by NIK and vehicles by plate (built once), payment codes by idempotency key."""

    def __init__(self, population: Population):
        self.owners: dict[str, Owner] = {}
        self.by_plate: dict[tuple[str, str, str], tuple[Owner, Vehicle]] = {}
        for person in population.people:
            owner = owner_of(population, person)
            if owner is None:
                continue
            kept = tuple(v for v in owner.vehicles if (v.area, v.number, v.series) not in self.by_plate)
            owner = replace(owner, vehicles=kept)  # a plate belongs to one vehicle; the rest of the owner stays
            self.owners[owner.nik] = owner
            self.by_plate.update({(v.area, v.number, v.series): (owner, v) for v in kept})
        self.payments: dict[str, tuple[str, dict[str, Any]]] = {}
