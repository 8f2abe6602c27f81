"""Names of the synthetic population, following Indonesian naming customs by region and family: Javanese and
Sundanese single names, Batak names with marga, Balinese birth-order names, eastern Christian names, Chinese-
Indonesian names old and new. A family passes its customs on (`Lineage`).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from importlib import resources
from typing import Literal

Sex = Literal["L", "P"]
NAME_TABLES = json.loads(resources.files("connectors.simkit").joinpath("names.json").read_text(encoding="utf-8"))
"""Given and second names by naming culture and sex: long lists of data, kept in names.json."""


def words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _by_culture_and_sex(table: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """One table of names.json: ("jawa", "L") → the names, in their order."""
    found: dict[tuple[str, str], tuple[str, ...]] = {}
    for key, text in NAME_TABLES[table].items():
        culture, sex = key.split()
        found[(culture, sex)] = words(text)
    return found


ISLAMIC_M = words(
    "MUHAMMAD AHMAD ABDUL RAHMAT FAUZI RIZKY HASAN IBRAHIM ISMAIL YUSUF HAMZAH ARIF ILHAM FIRMAN "
    "SYAIFUL ZAINAL LUTFI HIDAYAT IRFAN FAISAL FAHMI RIDWAN TAUFIK NURDIN MUSTOFA HUSEIN"
)
ISLAMIC_F = words(
    "SITI NUR AISYAH FATIMAH AMINAH KHADIJAH ZAINAB HALIMAH NURUL SALMA AULIA AZIZAH LATIFAH NAILA "
    "ANISA ZAHRA HASNAH RAHMAH MARYAM"
)
CHRISTIAN_M = words(
    "YOHANES PETRUS PAULUS FRANSISKUS MARKUS YOSEF ANDREAS STEFANUS ANTONIUS YULIUS DANIEL SAMUEL "
    "MICHAEL ROBERT MARTINUS BENEDIKTUS KRISTIAN ALFONS MELKIANUS AGUSTINUS"
)
CHRISTIAN_F = words(
    "MARIA MAGDALENA YOHANA ELISABETH AGUSTINA KRISTINA VERONIKA MARTHA FRANSISKA THERESIA "
    "NATALIA DEBORA REGINA CHRISTINE AGNES MARGARETHA"
)

GIVEN, SECOND = _by_culture_and_sex("given"), _by_culture_and_sex("second")
SECOND[("timur", "P")] = SECOND[("timur", "L")]  # eastern family names are not gendered
MARGA = words(
    "SIMANJUNTAK SITORUS PANJAITAN SIAHAAN SIREGAR HUTAGALUNG SINAGA MANURUNG PASARIBU SIHOMBING "
    "TAMBUNAN SITOMPUL NAPITUPULU GINTING SEMBIRING TARIGAN SIMATUPANG HUTAPEA PARDEDE SIRAIT"
)
MARGA_MUSLIM = words("NASUTION HARAHAP LUBIS SIREGAR HASIBUAN DAULAY POHAN RANGKUTI BATUBARA RITONGA")
BALI_ORDER_M = words("WAYAN PUTU GEDE MADE KADEK NYOMAN KOMANG KETUT")
BALI_ORDER_F = words("WAYAN PUTU LUH MADE KADEK NYOMAN KOMANG KETUT")
BALI_NAME_M = words(
    "SUDARSANA ARTAWAN SUARDANA WIRAWAN SUPARTA ADNYANA MAHENDRA ARIMBAWA SUKADANA DARMAWAN ASTAWA WIDIANA SUTAMA"
)
BALI_NAME_F = words("ARIANI SUARTINI PURNAMI SUKMAWATI WIDIASIH ASTITI SRIANI DEWI MARTINI SUDIARTINI RATNADI ANTARI")
CHINESE_SURNAME = words("LIM TAN ONG WONG GO SIE LIE KHO TJOA THIO OEI LAUW")
CHINESE_GIVEN_M = ("KIAN HWA", "SIOE LIONG", "HOK BENG", "TJIN HO", "BOEN KIONG", "KOK HAN", "TIONG HOK")
CHINESE_GIVEN_F = ("SWIE LAN", "MEI LING", "GIOK NIO", "LAY HOA", "SOEN NIO", "HWIE LIAN", "KIM LIEN")
CHINESE_MODERN_M = words("HENDRA WILLIAM KEVIN STEVEN JONATHAN FELIX VINCENT HENGKY RICHARD EDWIN ALBERT")
CHINESE_MODERN_F = words("JESSICA MICHELLE STELLA FELICIA VIVIAN CINDY MONICA LINDA SUSAN EVELYN NATALIA")
CHINESE_LAST = words("WIJAYA TANOTO SALIM GUNAWAN HALIM SANTOSO KUSUMA TANUWIJAYA SUSANTO HARTONO LIMANTO")

RELIGION_BY_CULTURE = {
    "jawa": (("ISLAM", 92), ("KRISTEN", 4), ("KATOLIK", 3), ("BUDHA", 0.5), ("KEPERCAYAAN", 0.5)),
    "sunda": (("ISLAM", 97), ("KRISTEN", 2), ("KATOLIK", 1)),
    "urban": (("ISLAM", 83), ("KRISTEN", 8), ("KATOLIK", 5), ("BUDHA", 3), ("HINDU", 0.5), ("KONGHUCU", 0.5)),
    "melayu": (("ISLAM", 93), ("KRISTEN", 3), ("KATOLIK", 2), ("BUDHA", 2)),
    "batak": (("KRISTEN", 60), ("KATOLIK", 12), ("ISLAM", 28)),
    "bali": (("HINDU", 86), ("ISLAM", 10), ("KRISTEN", 2), ("KATOLIK", 2)),
    "timur": (("KRISTEN", 58), ("KATOLIK", 30), ("ISLAM", 12)),
}
CHINESE_SHARE = {"urban": 0.05, "melayu": 0.03, "batak": 0.04, "jawa": 0.015}


@dataclass(frozen=True)
class Lineage:
    """What a family passes on: naming culture, religion, Chinese descent, family name (Batak marga, Chinese
    surname)."""

    culture: str
    religion: str
    chinese: bool
    marga: str | None


def full_name(rng: random.Random, lineage: Lineage, sex: Sex, born: int) -> str:
    """A full name following the family's naming customs."""
    culture, religion = lineage.culture, lineage.religion
    if lineage.chinese:
        if born < 1968 and rng.random() < 0.7:
            surname = lineage.marga or rng.choice(CHINESE_SURNAME)
            return f"{surname} {rng.choice(CHINESE_GIVEN_M if sex == 'L' else CHINESE_GIVEN_F)}"
        first = rng.choice(CHINESE_MODERN_M if sex == "L" else CHINESE_MODERN_F)
        return f"{first} {rng.choice(CHINESE_LAST)}"
    if culture == "bali" and religion == "HINDU":
        if sex == "L":
            return f"I {rng.choice(BALI_ORDER_M)} {rng.choice(BALI_NAME_M)}"
        return f"NI {rng.choice(BALI_ORDER_F)} {rng.choice(BALI_NAME_F)}"
    if culture == "batak" and lineage.marga:
        first = rng.choice(
            ISLAMIC_M
            if religion == "ISLAM" and sex == "L"
            else ISLAMIC_F
            if religion == "ISLAM"
            else GIVEN[("batak", sex)]
        )
        return f"{first} {lineage.marga}" if sex == "L" else f"{first} BR {lineage.marga}"
    base = "urban" if culture in ("bali", "batak") else culture
    if religion in ("KRISTEN", "KATOLIK") and culture not in ("timur",):
        first = rng.choice(CHRISTIAN_M if sex == "L" else CHRISTIAN_F)
        return f"{first} {rng.choice(SECOND[(base, sex)])}"
    if religion == "ISLAM" and culture == "timur":
        base = "melayu"
    if base in ("melayu", "urban") and religion == "ISLAM" and rng.random() < 0.3:
        first = rng.choice(ISLAMIC_M if sex == "L" else ISLAMIC_F)
        return f"{first} {rng.choice(SECOND[(base, sex)])}"
    first = rng.choice(GIVEN[(base, sex)])
    # Many Javanese and Sundanese of older generations carry one name only.
    single = 0.45 if base in ("jawa", "sunda") and born < 1975 else 0.12 if base in ("jawa", "sunda") else 0.0
    if rng.random() < single:
        return first
    return f"{first} {rng.choice(SECOND[(base, sex)])}"
