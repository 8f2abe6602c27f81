"""Households of the synthetic population, one after another from a single generator: a head, a wife, children
sharing a KK number and an address; the NIK issued in the district where they live (so NIK, district, sex and
birth date always agree).
"""

from __future__ import annotations

import datetime
import random
from typing import Any

from connectors.simkit import attributes, names, places
from connectors.simkit.attributes import BIRTH_FIRST, BIRTH_LAST, BLOOD, add_years, clamp_birth, date_between, weighted
from connectors.simkit.names import (
    CHINESE_SHARE,
    CHINESE_SURNAME,
    MARGA,
    MARGA_MUSLIM,
    RELIGION_BY_CULTURE,
    Lineage,
    Sex,
)


class HouseholdBuilder:
    """Builds households one after another from a single generator."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.niks: set[str] = set()
        self.kks: set[str] = set()
        codes = [r[0] for r in places.REGENCIES]
        self.regency_codes = codes
        self.weights = [r[1] for r in places.REGENCIES]
        self.cultures = {r[0]: r[2] for r in places.REGENCIES}
        self.in_province: dict[str, list[str]] = {}  # province code → its regencies' codes, in the same order
        for code in codes:
            self.in_province.setdefault(code.split(".", 1)[0], []).append(code)

    def nik(self, district_code: str, sex: Sex, born: datetime.date) -> str:
        """District, birth date (day + 40 for women) and a serial: the NIK's structure."""
        return self._numbered(district_code, born.day + (40 if sex == "P" else 0), born, 40, self.niks)

    def kk(self, district_code: str, issued: datetime.date) -> str:
        """District, issue date and a serial: the KK number's structure."""
        return self._numbered(district_code, issued.day, issued, 150, self.kks)

    def _numbered(self, district_code: str, day: int, date: datetime.date, spread: int, issued: set[str]) -> str:
        """`district ddmmyy` and the first four-digit serial from a random one up to `spread` not issued yet."""
        stem = f"{district_code.replace('.', '')}{day:02d}{date.month:02d}{date.year % 100:02d}"
        serial = self.rng.randint(1, spread)
        while f"{stem}{serial:04d}" in issued:
            serial = serial % 9999 + 1
        number = f"{stem}{serial:04d}"
        issued.add(number)
        return number

    def lineage(self, culture: str) -> Lineage:
        rng = self.rng
        chinese = rng.random() < CHINESE_SHARE.get(culture, 0.0)
        if chinese:
            religion = weighted(rng, (("BUDHA", 45), ("KRISTEN", 25), ("KATOLIK", 20), ("KONGHUCU", 10)))
        else:
            religion = weighted(rng, RELIGION_BY_CULTURE[culture])
        marga = rng.choice(CHINESE_SURNAME) if chinese else None
        if culture == "batak" and not chinese:
            marga = rng.choice(MARGA_MUSLIM if religion == "ISLAM" else MARGA)
        return Lineage(culture, religion, chinese, marga)

    def _other_family(self, lineage: Lineage) -> str | None:
        """The family name of someone marrying into the family (same naming custom, another family)."""
        if lineage.chinese:
            return self.rng.choice(CHINESE_SURNAME)
        return self.rng.choice(MARGA) if lineage.marga else None

    def parents(self, lineage: Lineage, born: int) -> tuple[str, str]:
        """Names of someone's father and mother (the mother from a family of the same culture)."""
        father = names.full_name(self.rng, lineage, "L", born - 28)
        mother_line = Lineage(lineage.culture, lineage.religion, lineage.chinese, self._other_family(lineage))
        mother = names.full_name(self.rng, mother_line, "P", born - 25)
        return father, mother

    def birth_place(self, regency: places.Region, province_code: str) -> str:
        rng = self.rng
        if rng.random() < 0.72:
            return places.short_place(regency.name)
        same_province = self.in_province.get(province_code, [])
        pool = same_province if same_province and rng.random() < 0.6 else self.regency_codes
        return places.short_place(places.region(rng.choice(pool)).name)

    def household(self, number: int, room: int) -> list[dict[str, Any]]:
        """Members of one household as field dicts (status fields are added later)."""
        rng = self.rng
        regency_code = rng.choices(self.regency_codes, weights=self.weights)[0]
        culture = self.cultures[regency_code]
        regency = places.region(regency_code)
        province = places.region(regency_code[:2])
        district_code, district_name, _ = rng.choice(places.children(regency_code))
        village_code, village_name, postal = rng.choice(places.children(district_code))
        is_desa = village_code.split(".")[3].startswith("2")
        hamlet = places.hamlet(rng, culture) if is_desa and rng.random() < 0.6 else None
        place = {
            "street": places.street(rng, village_name, is_desa, culture, hamlet),
            "rt": f"{rng.randint(1, 15):03d}",
            "rw": f"{rng.randint(1, 12):03d}",
            "hamlet": hamlet,
            "village": village_name,
            "village_code": village_code,
            "district": district_name,
            "district_code": district_code,
            "regency": regency.name,
            "regency_code": regency_code,
            "province": province.name,
            "province_code": regency_code[:2],
            "postal_code": postal,
        }
        lineage = self.lineage(culture)

        kind = weighted(rng, (("single", 28), ("couple", 17), ("family", 47), ("single_parent", 8)))
        members: list[dict[str, object]] = []

        def person(
            sex: Sex,
            born: datetime.date,
            role: str,
            marital: str,
            line: Lineage,
            parents: tuple[str, str] | None = None,
        ) -> dict[str, object]:
            name = names.full_name(rng, line, sex, born.year)
            father, mother = parents or self.parents(line, born.year)
            occupation = attributes.occupation(rng, sex, born.year)
            return {
                "sex": sex,
                "birth_date": born,
                "family_role": role,
                "marital_status": marital,
                "name": name,
                "father_name": father,
                "mother_name": mother,
                "religion": line.religion,
                "occupation": occupation,
                "education": attributes.education(rng, occupation, born.year),
                "birth_place": self.birth_place(regency, regency_code[:2]),
            }

        if kind == "single":
            sex: Sex = "L" if rng.random() < 0.55 else "P"
            born = date_between(rng, BIRTH_FIRST, BIRTH_LAST)
            if born.year > 1992:
                marital = "BELUM KAWIN"
            else:
                marital = weighted(rng, (("BELUM KAWIN", 30), ("CERAI HIDUP", 30), ("CERAI MATI", 40)))
            members.append(person(sex, born, "KEPALA KELUARGA", marital, lineage))
        else:
            head_sex: Sex = "P" if kind == "single_parent" and rng.random() < 0.7 else "L"
            last_head = datetime.date(1985 if kind != "couple" else 2000, 12, 31)
            head_born = date_between(rng, BIRTH_FIRST, last_head)
            marital = "KAWIN" if kind in ("couple", "family") else "CERAI MATI" if rng.random() < 0.6 else "CERAI HIDUP"
            head = person(head_sex, head_born, "KEPALA KELUARGA", marital, lineage)
            members.append(head)
            mother_name = head["name"] if head_sex == "P" else None
            if kind in ("couple", "family"):
                wife_born = clamp_birth(head_born + datetime.timedelta(days=rng.randint(-2 * 365, 9 * 365)))
                chinese_wife = lineage.chinese and rng.random() < 0.8
                wife_line = Lineage(
                    lineage.culture,
                    lineage.religion,
                    chinese_wife,
                    self._other_family(lineage) if chinese_wife or not lineage.chinese else None,
                )
                wife = person("P", wife_born, "ISTRI", "KAWIN", wife_line)
                members.append(wife)
                mother_name = wife["name"]
            if kind in ("family", "single_parent"):
                father_name = head["name"] if head_sex == "L" else names.full_name(rng, lineage, "L", head_born.year)
                mother_born = _birth_date(members[-1]) if mother_name else head_born
                for _ in range(rng.randint(1, 3)):
                    born_min = max(head_born, mother_born) + datetime.timedelta(days=20 * 365)
                    child_born = date_between(rng, born_min, born_min + datetime.timedelta(days=20 * 365))
                    if child_born > BIRTH_LAST:
                        continue
                    sex = "L" if rng.random() < 0.51 else "P"
                    child = person(
                        sex,
                        child_born,
                        "ANAK",
                        "BELUM KAWIN",
                        lineage,
                        parents=(
                            str(father_name),
                            str(mother_name or names.full_name(rng, lineage, "P", head_born.year)),
                        ),
                    )
                    members.append(child)
        members = members[:room]

        oldest = min(_birth_date(m) for m in members)
        issued = date_between(
            rng, max(datetime.date(2005, 1, 1), add_years(oldest, 17, leap_day="1 March")), datetime.date(2024, 12, 31)
        )
        kk = self.kk(district_code, issued)
        for m in members:
            born = _birth_date(m)
            sex = "L" if m["sex"] == "L" else "P"
            m.update(place)
            m["household"] = number
            m["kk_number"] = kk
            m["nik"] = self.nik(district_code, sex, born)
            m["blood_type"] = weighted(rng, BLOOD)
            m["ektp_status"] = "ELEKTRONIK" if born.year < 2008 or rng.random() < 0.8 else "BELUM REKAM"
            has_akta = born.year >= 1990 or rng.random() < 0.35
            m["birth_certificate_no"] = (
                f"{regency_code.replace('.', '')}-LT-{born:%d%m%Y}-{rng.randint(1, 9999):04d}" if has_akta else None
            )
        return members


def _birth_date(member: dict[str, object]) -> datetime.date:
    born = member["birth_date"]
    assert isinstance(born, datetime.date)
    return born
