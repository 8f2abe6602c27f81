"""A simulator of a BPJS Ketenagakerjaan membership web service (SOAP 1.1, WS-Security UsernameToken), our design.

No public specification of a BPJS Ketenagakerjaan membership service exists; the contract in `service.wsdl` is
Gerbang's, in the style of Indonesian government SOAP services. Data is derived per person with
`population.rng(person, "bpjs_ketenagakerjaan")` in a fixed order, anchored at a fixed date: who is a member
depends on the occupation Dukcapil records (private employees mostly wage-earner members (PU) with an employer;
traders, farmers and the self-employed sometimes non-wage members (BPU); civil servants, soldiers and police are
insured by TASPEN/ASABRI, not here; pensioners and homemakers are at most former, NONAKTIF members). Programmes
follow the rules: PU has JHT, JKK, JKM, usually JP (from July 2015) and JKP (from February 2022); BPU has JKK and
JKM, sometimes JHT. About 5 % of members are on file with another spelling of the name or birth date.

Registration (`PendaftaranPeserta`): the applicant must be in the civil registry with the same name and birth
date, not already an active member; a PU registration needs a known employer (NPP) and JHT+JKK+JKM; a BPU one
JKK+JKM and no JP/JKP. The monthly contribution is computed from the simulator's rate table (PP 44/2015,
45/2015, 46/2015, 37/2021: JHT 5.7 %, JKK 0.24 %, JKM 0.3 %, JP 3 % up to the wage cap; BPU JKK 1 %, JKM Rp6,800,
JHT 2 %). An accepted registration becomes the person's membership for later lookups. The idempotency key
travels in the `KunciIdempotensi` SOAP header; a repeat returns the first reply.

Options: `users` ({user: password}), `today` (the date registrations are judged against).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from lxml import etree

from connectors.simkit.attributes import add_years
from connectors.simkit.envelope import SoapRequest, client_fault
from connectors.simkit.population import Register
from connectors.simkit.soap import Call, Holder, SoapAgency, holder_as_known
from identity.clock import today_wib

if TYPE_CHECKING:
    from connectors.simkit.population import Person, Population

AGENCY = SoapAgency.from_wsdl(
    "BPJS Ketenagakerjaan Kepesertaan",
    Path(__file__).with_name("service.wsdl"),
    prefix="tk",
    demo_password="bpjstk-demo-rahasia",
)
DATA_END = dt.date(2024, 12, 31)
JP_FROM, JKP_FROM = dt.date(2015, 7, 1), dt.date(2022, 2, 1)
PROGRAMS = {
    "JHT": "JAMINAN HARI TUA",
    "JKK": "JAMINAN KECELAKAAN KERJA",
    "JKM": "JAMINAN KEMATIAN",
    "JP": "JAMINAN PENSIUN",
    "JKP": "JAMINAN KEHILANGAN PEKERJAAN",
}
PU_REQUIRED, BPU_REQUIRED = {"JHT", "JKK", "JKM"}, {"JKK", "JKM"}
PU_RATES = {
    "JHT": Decimal("0.057"),
    "JKK": Decimal("0.0024"),
    "JKM": Decimal("0.003"),
    "JP": Decimal("0.03"),
    "JKP": Decimal("0"),
}
JP_WAGE_CAP = Decimal("10042300")
BPU_JKK_RATE, BPU_JKM_FLAT, BPU_JHT_RATE = Decimal("0.01"), Decimal("6800"), Decimal("0.02")
MIN_WAGE = Decimal("1000000")
# occupation (as Dukcapil writes it) → (share who are or were members, segment, share of those still active)
OCCUPATIONS: dict[str, tuple[float, str, float]] = {
    "KARYAWAN SWASTA": (0.90, "PU", 0.88),
    "GURU": (0.55, "PU", 0.85),
    "PERAWAT": (0.60, "PU", 0.85),
    "SOPIR": (0.50, "BPU", 0.70),
    "BURUH HARIAN LEPAS": (0.45, "BPU", 0.60),
    "WIRASWASTA": (0.30, "BPU", 0.70),
    "PEDAGANG": (0.30, "BPU", 0.70),
    "PETANI/PEKEBUN": (0.20, "BPU", 0.70),
    "NELAYAN/PERIKANAN": (0.35, "BPU", 0.70),
    "PENSIUNAN": (0.50, "PU", 0.0),
    "MENGURUS RUMAH TANGGA": (0.15, "PU", 0.0),
    "BELUM/TIDAK BEKERJA": (0.15, "PU", 0.0),
    "PELAJAR/MAHASISWA": (0.05, "BPU", 0.5),
}
NOT_COVERED = ("PEGAWAI NEGERI SIPIL", "TENTARA NASIONAL", "KEPOLISIAN")  # TASPEN / ASABRI
_NPP = re.compile(r"[0-9]{8}")
_WORDS = (
    "MAJU",
    "JAYA",
    "ABADI",
    "SEJAHTERA",
    "MAKMUR",
    "SENTOSA",
    "KARYA",
    "MANDIRI",
    "PRIMA",
    "NUSANTARA",
    "SINAR",
    "MULIA",
    "CAHAYA",
    "BERKAH",
    "SUMBER",
    "INDAH",
    "PERKASA",
    "GEMILANG",
    "UTAMA",
    "TEKNIK",
)
MEMBER = ("nomorKPJ", "nama", "tanggalLahir", "jenisKelamin", "segmen", "statusKepesertaan", "tanggalKepesertaan")
PROGRAMME = ("kodeProgram", "namaProgram", "status", "tanggalMulai")  # the WSDL's Peserta and Program, in order

b = AGENCY.builder


@dataclass(frozen=True)
class Employer:
    npp: str
    name: str


@dataclass(frozen=True)
class Programme:
    code: str
    active: bool
    since: dt.date


@dataclass(frozen=True)
class Member:
    kpj: str
    holder: Holder
    segment: str
    active: bool
    since: dt.date
    employer: Employer | None
    programmes: tuple[Programme, ...]


def employers(seed: int, count: int = 40) -> dict[str, Employer]:
    """The employers (by NPP) the simulator knows; the same seed gives the same companies."""
    rng = random.Random(f"bpjs_ketenagakerjaan:employers:{seed}")
    found: dict[str, Employer] = {}
    while len(found) < count:
        npp = f"{rng.randint(10_000_000, 99_999_999)}"
        words = rng.sample(_WORDS, 2 + (rng.random() < 0.3))
        form = rng.choice(["PT", "PT", "PT", "CV"])
        suffix = rng.choice(["", "", " INDONESIA", " TBK" if form == "PT" else ""])
        found[npp] = Employer(npp, f"{form} {' '.join(words)}{suffix}")
    return found


def programmes_for(
    segment: str, since: dt.date, active: bool, rng: random.Random, *, age_at_start: int
) -> tuple[Programme, ...]:
    """The programmes a member of `segment` who joined on `since` has."""
    if segment == "BPU":
        codes = ["JKK", "JKM"] + (["JHT"] if rng.random() < 0.4 else [])
        return tuple(Programme(code, active, since) for code in codes)
    items = [Programme(code, active, since) for code in ("JHT", "JKK", "JKM")]
    if rng.random() < 0.8 and age_at_start < 56:
        items.append(Programme("JP", active, max(since, JP_FROM)))
    if active and age_at_start < 54:
        items.append(Programme("JKP", active, max(since, JKP_FROM)))
    return tuple(items)


def member_of(population: Population, person: Person, companies: Mapping[str, Employer]) -> Member | None:
    """The person's membership as BPJS Ketenagakerjaan holds it, or None when they never were a member."""
    rng = population.rng(person, "bpjs_ketenagakerjaan")
    if person.occupation.startswith(NOT_COVERED):
        return None
    share, segment, active_share = OCCUPATIONS.get(person.occupation, (0.25, "BPU", 0.7))
    earliest = max(add_years(person.birth_date, 18), dt.date(2000, 1, 1))
    if rng.random() >= share or earliest > DATA_END:
        return None
    since = earliest + dt.timedelta(days=rng.randint(0, (DATA_END - earliest).days))
    active = rng.random() < active_share
    employer = companies[rng.choice(sorted(companies))] if segment == "PU" else None
    age_at_start = since.year - person.birth_date.year
    programmes = programmes_for(segment, since, active, rng, age_at_start=age_at_start)
    kpj = f"{since:%y}{rng.randint(0, 999_999_999):09d}"
    holder = holder_as_known(person.name, person.birth_date, person.sex, rng)
    return Member(kpj, holder, segment, active, since, employer, programmes)


def contribution(segment: str, wage: Decimal, programmes: set[str]) -> Decimal:
    """Monthly contribution in rupiah from the simulator's rate table."""
    if segment == "BPU":
        total = wage * BPU_JKK_RATE + BPU_JKM_FLAT + (wage * BPU_JHT_RATE if "JHT" in programmes else Decimal(0))
    else:
        total = sum(
            ((min(wage, JP_WAGE_CAP) if code == "JP" else wage) * PU_RATES[code] for code in programmes), Decimal(0)
        )
    return Decimal(total).quantize(Decimal("1"), rounding=ROUND_HALF_UP)


class Registry:
    """Members of one population (on first use, and registrations accepted since start), and the employers."""

    def __init__(self, population: Population):
        self.population = population
        self.employers = employers(population.seed)
        self.members = Register(population, partial(member_of, population, companies=self.employers))


def cek_kepesertaan(call: Call[Registry]) -> etree._Element:
    """CekKepesertaan: the member, their employer (PU) and programmes, or kodeRespon 01."""
    member = call.state.members.get(call.request.nik("TK-01"))
    if member is None:
        return AGENCY.reply(call, "01", "NIK TIDAK TERDAFTAR SEBAGAI PESERTA")
    reply = AGENCY.reply(call, "00", "DATA DITEMUKAN")
    holder, status = member.holder, "AKTIF" if member.active else "NONAKTIF"
    values = (member.kpj, holder.name, holder.birth_date, holder.sex, member.segment, status, member.since)
    b.fields(reply, "peserta", MEMBER, values)
    if member.employer is not None:
        b.fields(reply, "perusahaan", ("npp", "namaPerusahaan"), (member.employer.npp, member.employer.name))
    listing = b.sub(reply, "daftarProgram")
    for p in member.programmes:
        b.fields(
            listing, "program", PROGRAMME, (p.code, PROGRAMS[p.code], "AKTIF" if p.active else "NONAKTIF", p.since)
        )
    return reply


def _wage(request: SoapRequest) -> Decimal:
    try:
        wage = Decimal(request.text("upah"))
    except InvalidOperation:
        raise client_fault("upah harus angka", kode="TK-02") from None
    if not wage.is_finite() or wage < MIN_WAGE:
        raise client_fault("upah di bawah batas minimum pendaftaran", kode="TK-17")
    return wage


def pendaftaran(call: Call[Registry]) -> etree._Element:
    """PendaftaranPeserta: register a wage-earner (PU) or non-wage (BPU) member; deduplicated by KunciIdempotensi."""
    key = call.request.required_header("KunciIdempotensi", kode="TK-20")
    return call.replies.once(key, partial(registration, call, key))


def registration(call: Call[Registry], key: str) -> etree._Element:
    """The registration's rules, and its reply (and the new membership) when they are met."""
    request, registry, today = call.request, call.state, call.today
    nik, name, birth = request.nik("TK-01"), request.text("nama"), request.date("tanggalLahir", "TK-02")
    sex, segment, start = request.text("jenisKelamin"), request.text("segmen"), request.date("tanggalMulai", "TK-02")
    wage, npp = _wage(request), request.text("npp", required=False)
    codes = request.texts("kodeProgram", parent="daftarProgram")
    if segment not in ("PU", "BPU") or sex not in ("L", "P") or not set(codes) <= set(PROGRAMS):
        raise client_fault("segmen, jenisKelamin atau kodeProgram tidak valid", kode="TK-03")
    person = registry.population.registered(nik)
    if person is None:
        raise client_fault("NIK tidak terdaftar atau tidak aktif di Dukcapil", kode="TK-11")
    if not person.named(name) or birth != person.birth_date or sex != person.sex:
        raise client_fault("data identitas tidak sesuai dengan data Dukcapil", kode="TK-16")
    current = registry.members.get(nik)
    if current is not None and current.active:
        raise client_fault("NIK sudah terdaftar sebagai peserta aktif", kode="TK-12")
    if not today - dt.timedelta(days=31) <= start <= today + dt.timedelta(days=90):
        raise client_fault("tanggalMulai di luar rentang yang diizinkan", kode="TK-18")
    employer = None
    if segment == "PU":
        employer = registry.employers.get(npp or "") if _NPP.fullmatch(npp or "") else None
        if employer is None:
            raise client_fault("NPP perusahaan tidak dikenal", kode="TK-13")
        if not PU_REQUIRED <= set(codes):
            raise client_fault("peserta penerima upah wajib JHT, JKK dan JKM", kode="TK-14")
    elif not BPU_REQUIRED <= set(codes) or {"JP", "JKP"} & set(codes):
        raise client_fault("peserta bukan penerima upah wajib JKK dan JKM, tanpa JP/JKP", kode="TK-14")
    serial = int(hashlib.sha256(nik.encode()).hexdigest(), 16) % 10**9
    kpj = current.kpj if current is not None else f"{start:%y}{serial:09d}"
    holder = Holder(person.name, person.birth_date, person.sex)
    programmes = tuple(Programme(code, True, start) for code in PROGRAMS if code in codes)
    registry.members.put(nik, Member(kpj, holder, segment, True, start, employer, programmes))
    reference = "REG-" + hashlib.sha256(f"{key}|{nik}".encode()).hexdigest()[:12].upper()
    details = [
        b.el("nomorRegistrasi", reference),
        b.el("nomorKPJ", kpj),
        b.el("iuranBulanan", contribution(segment, wage, set(codes))),
        b.el("tanggalMulai", start),
    ]
    return AGENCY.reply(call, "00", "PENDAFTARAN BERHASIL", details)


OPERATIONS = {
    "CekKepesertaan": cek_kepesertaan,
    "StatusLayanan": AGENCY.status("NORMAL"),
    "PendaftaranPeserta": pendaftaran,
}


def simulator(
    population: Population, *, users: Mapping[str, str] | None = None, today: dt.date | None = None
) -> FastAPI:
    """The BPJS Ketenagakerjaan membership service over `population` as a FastAPI app."""
    return AGENCY.serve(Registry(population), OPERATIONS, users=users, today=today)


sim_config = AGENCY.sim_config


def contract_samples(population: Population) -> dict[str, Any]:
    """What the contract kit (connectors/contract) asks this simulator:a member, and the registration of a living person
    who is not an active member."""
    companies = employers(population.seed)
    members = {p.nik: member_of(population, p, companies) for p in population.ordinary()}
    found = next(nik for nik, member in members.items() if member is not None)
    person = next(p for p in population.ordinary() if (member := members[p.nik]) is None or not member.active)
    return {
        "found": found,
        "service": "membership_registration",
        "payload": {
            "nik": person.nik,
            "nama": person.name,
            "tanggalLahir": person.birth_date.isoformat(),
            "jenisKelamin": person.sex,
            "segmen": "PU",
            "upah": "5000000",
            "tanggalMulai": today_wib().isoformat(),
            "npp": next(iter(companies)),
            "daftarProgram": ["JHT", "JKK", "JKM", "JP", "JKP"],
        },
    }
