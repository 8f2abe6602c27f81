"""The simulator's JKN membership data, derived deterministically from the synthetic population.

Each person's membership is drawn from `population.rng(person, "bpjs_kesehatan")` in a fixed order, so the same
seed always gives the same cards: ~85 % of people hold a card; ~5 % of holders are registered under a differently
spelled name or another birth date (the record's conflict report needs them); ~12 % of living holders are not
active, and deceased holders read MENINGGAL.

Following the public evidence (shared/agency-evidence/README.md, "BPJS Kesehatan VClaim"): `tglTAT` is always a
real date, often past on an active card (there is no "2099-12-31 = open-ended" convention); a card not active for
unpaid premiums reads `{"kode": "9", "keterangan": "NON AKTIF KARNA PREMI"}` with `provUmum` members null; some
cards carry `nama` in lower case; `umur` comes in both spellings seen ("34 tahun, 9 bulan, 23 hari" and
"47 tahun ,4 bulan ,14 hari"). Clinics (first-level "faskes tingkat 1") are made up per regency of
the population: one PUSKESMAS per district plus two private clinics.

statusPeserta codes: 0 AKTIF and 9 NON AKTIF KARNA PREMI are confirmed; 2 MENINGGAL, 7 PENANGGUHAN PESERTA and
15 NON AKTIF DIAKHIR BULAN come from a hospital's status table (inferred). jenisPeserta 13, 14, 21 are confirmed,
the others follow the same catalogue's style.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from connectors.simkit.places import bare_regency
from connectors.simkit.population import Register

if TYPE_CHECKING:
    from connectors.simkit.population import Person, Population

SALT = "bpjs_kesehatan"
CARD_SHARE = 0.85
CONFLICT_SHARE = 0.05
INACTIVE_SHARE = 0.12
LOWER_NAME_SHARE = 0.15
PREMIUM_TAT = dt.date(2050, 1, 1)
"""tglTAT seen on a card not active for unpaid premiums (a real date far ahead; not an "open end" marker)."""

STATUS_ACTIVE = ("0", "AKTIF")
STATUS_PREMIUM = ("9", "NON AKTIF KARNA PREMI")
STATUS_DECEASED = ("2", "MENINGGAL")
STATUS_INACTIVE = [
    STATUS_PREMIUM,
    STATUS_PREMIUM,
    STATUS_PREMIUM,
    ("7", "PENANGGUHAN PESERTA"),
    ("15", "NON AKTIF DIAKHIR BULAN"),
]
STATUS_LABELS = dict([STATUS_ACTIVE, STATUS_DECEASED, *STATUS_INACTIVE])

PNS_PUSAT, PNS_DAERAH, TNI_POLRI = ("1", "PNS PUSAT"), ("2", "PNS DAERAH"), ("4", "ANGGOTA TNI/POLRI")
PEGAWAI_SWASTA, PEKERJA_MANDIRI, BUKAN_PEKERJA = (
    ("13", "PEGAWAI SWASTA"),
    ("14", "PEKERJA MANDIRI"),
    ("15", "BUKAN PEKERJA"),
)
PENSIUNAN, PBI_APBN, PBI_APBD = ("16", "PENERIMA PENSIUN PNS"), ("21", "PBI (APBN)"), ("22", "PBI (APBD)")
CLASS_LABELS = {"1": "KELAS I", "2": "KELAS II", "3": "KELAS III"}
PISA = {"KEPALA KELUARGA": "1", "SUAMI": "2", "ISTRI": "2", "ANAK": "3"}


@dataclass(frozen=True)
class Clinic:
    """A first-level clinic (FKTP) as VClaim's provUmum shows it."""

    code: str
    name: str


@dataclass(frozen=True)
class Membership:
    """One participant as the agency holds them (name and birth date may differ from Dukcapil's)."""

    card_number: str
    nik: str
    name: str
    sex: str
    birth_date: dt.date
    class_code: str
    participant_type: tuple[str, str]
    status: tuple[str, str]
    clinic: Clinic
    tmt: dt.date
    tat: dt.date
    printed_on: dt.date
    pisa: str
    mr_number: str | None
    phone: str | None
    lower_name: bool = False

    @property
    def active(self) -> bool:
        return self.status[0] == STATUS_ACTIVE[0]

    def peserta(self, service_date: dt.date, today: dt.date) -> dict[str, Any]:
        """The `response.peserta` object of GET Peserta/nik/{nik}/tglSEP/{service_date}."""
        return {
            "noKartu": self.card_number,
            "nik": self.nik,
            "nama": self.name.lower() if self.lower_name else self.name,
            "pisa": self.pisa,
            "sex": self.sex,
            "tglLahir": self.birth_date.isoformat(),
            "tglCetakKartu": self.printed_on.isoformat(),
            "tglTMT": self.tmt.isoformat(),
            "tglTAT": self.tat.isoformat(),
            "hakKelas": {"kode": self.class_code, "keterangan": CLASS_LABELS[self.class_code]},
            "jenisPeserta": {"kode": self.participant_type[0], "keterangan": self.participant_type[1]},
            "statusPeserta": {"kode": self.status[0], "keterangan": self.status[1]},
            "provUmum": (
                {"kdProvider": None, "nmProvider": None}
                if self.status == STATUS_PREMIUM
                else {"kdProvider": self.clinic.code, "nmProvider": self.clinic.name}
            ),
            "mr": {"noMR": self.mr_number, "noTelepon": self.phone},
            "cob": {"noAsuransi": None, "nmAsuransi": None, "tglTMT": None, "tglTAT": None},
            "informasi": {"dinsos": None, "prolanisPRB": None, "noSKTM": None, "eSEP": None},
            "umur": {
                "umurSekarang": age_text(self.birth_date, today, spaced=self.lower_name),
                "umurSaatPelayanan": age_text(self.birth_date, service_date, spaced=self.lower_name),
            },
        }


class Registry:
    """Memberships and clinics of one population; computed once per person, on first use."""

    def __init__(self, population: Population):
        self.population = population
        self._memberships = Register(population, self._derive)

    @cached_property
    def clinics_by_regency(self) -> dict[str, list[Clinic]]:
        """Clinics of every regency in the population: PUSKESMAS per district, then two private clinics."""
        districts: dict[str, dict[str, str]] = {}
        regencies: dict[str, str] = {}
        for person in self.population.people:
            districts.setdefault(person.regency_code, {})[person.district_code] = person.district
            regencies[person.regency_code] = person.regency
        catalogue: dict[str, list[Clinic]] = {}
        for regency_code, by_code in sorted(districts.items()):
            prefix = regency_code.replace(".", "")
            clinics = [
                Clinic(f"{prefix}P{code.rsplit('.', 1)[-1].zfill(3)}", f"PUSKESMAS {name}")
                for code, name in sorted(by_code.items())
            ]
            place = bare_regency(regencies[regency_code])
            clinics.append(Clinic(f"{prefix}K001", f"KLINIK PRATAMA BHAKTI HUSADA {place}"))
            clinics.append(Clinic(f"{prefix}K002", f"KLINIK PRATAMA MITRA SEHAT {place}"))
            catalogue[regency_code] = clinics
        return catalogue

    @cached_property
    def clinics(self) -> dict[str, Clinic]:
        """Every known clinic by kdProvider (what a change of clinic must name)."""
        return {c.code: c for clinics in self.clinics_by_regency.values() for c in clinics}

    @cached_property
    def provinces(self) -> list[dict[str, str]]:
        """The `referensi/propinsi` list: the provinces of the population."""
        found = {p.province_code: p.province for p in self.population.people}
        return [{"kode": code, "nama": name} for code, name in sorted(found.items())]

    def by_nik(self, nik: str) -> Membership | None:
        return self._memberships.get(nik)

    def membership(self, person: Person) -> Membership | None:
        """The card of a person of this population, if they hold one."""
        return self._memberships.get(person.nik)

    def _derive(self, person: Person) -> Membership | None:
        """Draw one person's membership; every draw happens in the same order whatever the branch."""
        rng = self.population.rng(person, SALT)
        has_card = rng.random() < CARD_SHARE
        card_serial = rng.randrange(1000)
        type_roll, class_roll, status_roll, status_pick = rng.random(), rng.random(), rng.random(), rng.random()
        clinic_roll, tmt_roll, tat_roll, print_days = rng.random(), rng.random(), rng.random(), rng.randrange(3, 40)
        mr_roll, mr_number, phone_roll, phone_digits = (
            rng.random(),
            rng.randrange(10**6),
            rng.random(),
            rng.randrange(10**9, 10**10),
        )
        conflict_roll, conflict_kind, conflict_seed = rng.random(), rng.random(), rng.randrange(10**6)
        case_roll, tat_year = rng.random(), rng.randrange(2014, 2031)
        if not has_card:
            return None
        ptype = _participant_type(person.occupation, type_roll)
        if person.life_status == "deceased":
            status = STATUS_DECEASED
        elif status_roll < INACTIVE_SHARE:
            status = STATUS_INACTIVE[int(status_pick * len(STATUS_INACTIVE))]
        else:
            status = STATUS_ACTIVE
        tmt = _between(max(person.birth_date, dt.date(2014, 1, 1)), dt.date(2023, 12, 31), tmt_roll)
        if status == STATUS_ACTIVE:  # the end of some year, past or future: a past date on an active card is normal
            tat = dt.date(max(tat_year, tmt.year), 12, 31)
        elif status == STATUS_PREMIUM and tat_roll < 0.5:
            tat = PREMIUM_TAT
        else:
            tat = _between(tmt, dt.date(2024, 12, 31), tat_roll)
        name, birth_date = person.name, person.birth_date
        if conflict_roll < CONFLICT_SHARE:
            if conflict_kind < 0.6:
                name = name_variant(name, random.Random(conflict_seed))
            else:
                birth_date = birth_date_variant(birth_date, random.Random(conflict_seed))
        return Membership(
            card_number=f"0001{card_serial:03d}{person.index:06d}",
            nik=person.nik,
            name=name,
            sex=person.sex,
            birth_date=birth_date,
            class_code=_class_code(ptype, class_roll),
            participant_type=ptype,
            status=status,
            clinic=self._clinic_for(person, clinic_roll),
            tmt=tmt,
            tat=tat,
            printed_on=tmt + dt.timedelta(days=print_days),
            pisa=PISA.get(person.family_role, "5"),
            mr_number=f"{mr_number:06d}" if mr_roll < 0.4 else None,
            phone=f"08{phone_digits}" if phone_roll < 0.9 else None,
            lower_name=case_roll < LOWER_NAME_SHARE,
        )

    def _clinic_for(self, person: Person, roll: float) -> Clinic:
        clinics = self.clinics_by_regency[person.regency_code]
        if roll < 0.7:
            wanted = f"PUSKESMAS {person.district}"
            return next(c for c in clinics if c.name == wanted)
        return clinics[-2] if roll < 0.85 else clinics[-1]


def _participant_type(occupation: str, roll: float) -> tuple[str, str]:
    """A plausible JKN segment for an occupation (the roll splits the ambiguous ones)."""
    job = occupation.upper()
    if "PEGAWAI NEGERI" in job or "PNS" in job:
        return PNS_PUSAT if roll < 0.3 else PNS_DAERAH
    if "TENTARA" in job or "TNI" in job or "POLRI" in job or "KEPOLISIAN" in job:
        return TNI_POLRI
    if "GURU" in job or "PERAWAT" in job or "DOKTER" in job or "BIDAN" in job:
        return PNS_DAERAH if roll < 0.5 else PEGAWAI_SWASTA
    if "KARYAWAN" in job or "BURUH" in job:
        return PEGAWAI_SWASTA if roll < 0.85 else PBI_APBN
    if "PENSIUN" in job:
        return PENSIUNAN
    if any(word in job for word in ("WIRASWASTA", "PEDAGANG", "PETANI", "NELAYAN", "PEKEBUN", "SOPIR")):
        return PEKERJA_MANDIRI if roll < 0.5 else (PBI_APBN if roll < 0.85 else PBI_APBD)
    return PBI_APBN if roll < 0.45 else (PBI_APBD if roll < 0.6 else BUKAN_PEKERJA)


def _class_code(ptype: tuple[str, str], roll: float) -> str:
    if ptype in (PBI_APBN, PBI_APBD):
        return "3"
    if ptype in (PNS_PUSAT, PNS_DAERAH, TNI_POLRI, PENSIUNAN):
        return "1" if roll < 0.5 else "2"
    return "1" if roll < 0.25 else ("2" if roll < 0.55 else "3")


def _between(start: dt.date, end: dt.date, roll: float) -> dt.date:
    if end <= start:
        return start
    return start + dt.timedelta(days=int(roll * (end - start).days))


SPELLING_VARIANTS = [  # (pattern, replacement): old Indonesian spellings and common clerical slips
    (r"U", "OE"),
    (r"OE", "U"),
    (r"DJ", "J"),
    (r"(?<!D)J", "DJ"),
    (r"TJ", "C"),
    (r"C", "TJ"),
    (r"\bY", "J"),
    (r"I\b", "Y"),
    (r"AH\b", "A"),
    (r"KH", "H"),
    (r"([MNTLS])\1", r"\1"),
    (r"MUHAMMAD", "MUHAMAD"),
    (r"NUR\b", "NOER"),
]


def name_variant(name: str, rng: random.Random) -> str:
    """Another spelling of a name, as a registration clerk might have typed it; always differs from `name`."""
    words = name.split()
    candidates: list[str] = []
    for pattern, replacement in rng.sample(SPELLING_VARIANTS, len(SPELLING_VARIANTS)):
        candidates.append(re.sub(pattern, replacement, name, count=1))
    if len(words) > 1:
        candidates.append(" ".join([*words[:-1], words[-1][0]]))  # last name as an initial
    candidates.append(name + "H" if not name.endswith("H") else name[:-1])
    for candidate in candidates:
        if candidate != name and candidate.strip():
            return candidate
    return name + " A"


def birth_date_variant(birth_date: dt.date, rng: random.Random) -> dt.date:
    """A plausibly mistyped birth date (day and month swapped, a day off, a year off); always differs."""
    options: list[dt.date] = []
    if birth_date.day <= 12 and birth_date.day != birth_date.month:
        options.append(birth_date.replace(month=birth_date.day, day=birth_date.month))
    options.append(birth_date + dt.timedelta(days=rng.choice((-1, 1))))
    try:
        options.append(birth_date.replace(year=birth_date.year + rng.choice((-1, 1))))
    except ValueError:  # 29 February
        pass
    return rng.choice(options)


def age_text(birth_date: dt.date, on: dt.date, *, spaced: bool = False) -> str:
    """VClaim's age string, e.g. "34 tahun ,0 bulan ,9 hari" or (`spaced`) "34 tahun, 0 bulan, 9 hari"."""
    if on < birth_date:
        years = months = days = 0
        return f"{years} tahun, {months} bulan, {days} hari" if spaced else "0 tahun ,0 bulan ,0 hari"
    years, months = on.year - birth_date.year, on.month - birth_date.month
    days = on.day - birth_date.day
    if days < 0:
        months -= 1
        previous_month_end = on.replace(day=1) - dt.timedelta(days=1)
        days += previous_month_end.day
    if months < 0:
        years -= 1
        months += 12
    if spaced:
        return f"{years} tahun, {months} bulan, {days} hari"
    return f"{years} tahun ,{months} bulan ,{days} hari"
