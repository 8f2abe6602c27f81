"""A simulator of an Imigrasi passport web service (SOAP 1.1, WS-Security UsernameToken), our own design.

No public specification of an Imigrasi passport service exists; the contract in `service.wsdl` is Gerbang's, in the
style of Indonesian government SOAP services. Data is derived per person with `population.rng(person,
"imigrasi")` in a fixed order, anchored at a fixed date so it does not drift with the calendar: about a quarter of
people hold or held passports, each person a short history (the latest first issued, older ones expired or
cancelled). Validity follows the regulation: ten years for adults from 12 October 2022 (Permenkumham 18/2022),
five years before that and for children. About 5 % of holders are on file with another spelling of the name or
birth date than Dukcapil's.

Applications (`PermohonanPaspor`) follow ../shared/agencies.md: the applicant's NIK, name and birth date are checked
against the civil registry (here: the population), the fee is billed at once and must be paid within two hours,
each immigration office (kanim) has a daily quota and serves on working days only. The sender's idempotency key is
the `idTransaksi` element: a repeat returns the first application's reply. The fee table is the simulator's.

Options: `users` ({user: password}), `today` (judging statuses and appointment dates), `daily_quota` per kanim.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from lxml import etree

from connectors.examples import working_day
from connectors.imigrasi.client import KANTOR_IMIGRASI
from connectors.simkit.attributes import add_years
from connectors.simkit.envelope import client_fault
from connectors.simkit.population import Register
from connectors.simkit.soap import Call, Holder, SoapAgency, card_status, holder_as_known
from identity.clock import today_wib

if TYPE_CHECKING:
    from connectors.simkit.population import Person, Population

AGENCY = SoapAgency.from_wsdl(
    "Imigrasi Paspor", Path(__file__).with_name("service.wsdl"), prefix="imi", demo_password="imigrasi-demo-rahasia"
)
DATA_END = dt.date(2024, 12, 31)
TEN_YEARS_FROM = dt.date(2022, 10, 12)  # Permenkumham 18/2022: ten-year passports for adults
HOLDER_SHARE = 0.25
PAYMENT_WINDOW = dt.timedelta(hours=2)
BOOKING_HORIZON_DAYS = 60
FEES = {"BIASA": Decimal("350000"), "ELEKTRONIK": Decimal("650000")}
KANIM = KANTOR_IMIGRASI
KANIM_BY_PROVINCE = {
    "31": "JKTSEL",
    "36": "TNG",
    "32": "BDG",
    "33": "SMG",
    "34": "YOG",
    "35": "SBY",
    "12": "MDN",
    "51": "DPS",
    "73": "MKS",
}
TUJUAN = frozenset({"WISATA", "UMROH", "HAJI", "BEKERJA", "BELAJAR", "KUNJUNGAN KELUARGA", "BISNIS", "BEROBAT"})

b = AGENCY.builder


@dataclass(frozen=True)
class Passport:
    number: str
    kind: str  # BIASA / ELEKTRONIK
    issued: dt.date
    expires: dt.date
    office: str
    cancelled: bool


@dataclass(frozen=True)
class Traveller:
    holder: Holder
    birth_place: str
    passports: tuple[Passport, ...]  # newest first


def validity_years(issued: dt.date, birth: dt.date) -> int:
    """Ten years for adults since 12 October 2022, otherwise five."""
    adult = add_years(birth, 17) <= issued
    return 10 if adult and issued >= TEN_YEARS_FROM else 5


def traveller_of(population: Population, person: Person) -> Traveller | None:
    """The person's passports as Imigrasi holds them, or None when they never held one."""
    rng = population.rng(person, "imigrasi")
    if rng.random() >= HOLDER_SHARE:
        return None
    earliest = max(person.birth_date + dt.timedelta(days=180), dt.date(2005, 1, 1))
    if earliest > DATA_END:
        return None
    code = KANIM_BY_PROVINCE.get(person.province_code[:2])
    place = person.regency.removeprefix("KABUPATEN ").removeprefix("KOTA ")
    office = KANIM[code] if code else f"KANTOR IMIGRASI KELAS I TPI {place}"
    issued = earliest + dt.timedelta(days=rng.randint(0, (DATA_END - earliest).days))
    passports: list[Passport] = []
    while issued <= DATA_END and len(passports) < 4:
        electronic = issued.year >= 2014 and rng.random() < 0.4
        kind = "ELEKTRONIK" if electronic else "BIASA"
        number = ("E" if electronic else rng.choice("BC")) + f"{rng.randint(0, 9_999_999):07d}"
        expires = add_years(issued, validity_years(issued, person.birth_date)) - dt.timedelta(days=1)
        lost = rng.random() < 0.05
        following = (
            issued + dt.timedelta(days=rng.randint(30, 400))
            if lost
            else expires + dt.timedelta(days=rng.randint(-90, 3 * 365))
        )
        # a passport replaced before it expires (lost, or renewed early) is cancelled when the new one is issued
        replaced_early = following <= min(expires, DATA_END)
        passports.append(Passport(number, kind, issued, expires, office, lost or replaced_early))
        issued = following
    holder = holder_as_known(person.name, person.birth_date, person.sex, rng)
    return Traveller(holder, person.birth_place, tuple(reversed(passports[-3:])))


class Registry(Register[Traveller]):
    """Travellers of one population (on first use), and bookings per kanim and day for the quota."""

    def __init__(self, population: Population, daily_quota: int):
        super().__init__(population, partial(traveller_of, population))
        self.daily_quota = daily_quota
        self.bookings: Counter[tuple[str, dt.date]] = Counter()


OWNER = ("namaLengkap", "tempatLahir", "tanggalLahir", "jenisKelamin")  # the WSDL's Pemilik, in its order
PASSPORT = ("nomorPaspor", "jenis", "tanggalTerbit", "tanggalHabisBerlaku", "kantorImigrasi", "status")
PASSPORT_STATUS = ("DIBATALKAN", "BERLAKU", "HABIS BERLAKU")  # cancelled, valid, expired


def cari_paspor(call: Call[Registry]) -> etree._Element:
    """CariPasporByNIK: the holder and their passports (newest first), or kodeRespon 01."""
    traveller = call.state.get(call.request.nik("IMI-01"))
    if traveller is None:
        return AGENCY.reply(call, "01", "DATA PASPOR TIDAK DITEMUKAN")
    reply = AGENCY.reply(call, "00", "DATA DITEMUKAN")
    holder = traveller.holder
    b.fields(reply, "pemilik", OWNER, (holder.name, traveller.birth_place, holder.birth_date, holder.sex))
    listing = b.sub(reply, "daftarPaspor")
    for p in traveller.passports:
        status = card_status(call.today, p.expires, p.cancelled, PASSPORT_STATUS)
        b.fields(listing, "paspor", PASSPORT, (p.number, p.kind, p.issued, p.expires, p.office, status))
    return reply


def permohonan(call: Call[Registry]) -> etree._Element:
    """PermohonanPaspor: check the applicant against the civil registry, book the kanim, bill the fee; deduplicated
    by idTransaksi."""
    key = call.request.text("idTransaksi")
    return call.replies.once(key, partial(application, call, key))


def application(call: Call[Registry], key: str) -> etree._Element:
    """The application's rules, and its reply when they are met."""
    request, registry, today = call.request, call.state, call.today
    nik, name, birth = request.nik("IMI-01"), request.text("namaLengkap"), request.date("tanggalLahir", "IMI-02")
    kind, kanim, purpose = request.text("jenisPaspor"), request.text("kodeKanim"), request.text("tujuan")
    visit = request.date("tanggalKedatangan", "IMI-02")
    if kind not in FEES:
        raise client_fault("jenisPaspor harus BIASA atau ELEKTRONIK", kode="IMI-03")
    if purpose not in TUJUAN:
        raise client_fault("tujuan tidak dikenal", kode="IMI-04")
    person = registry.population.registered(nik)
    if person is None:
        raise client_fault("NIK tidak terdaftar atau tidak aktif di Dukcapil", kode="IMI-11")
    if not person.named(name) or birth != person.birth_date:
        raise client_fault("nama atau tanggal lahir tidak sesuai dengan data Dukcapil", kode="IMI-12")
    if kanim not in KANIM:
        raise client_fault("kode kantor imigrasi tidak dikenal", kode="IMI-13")
    if visit <= today or (visit - today).days > BOOKING_HORIZON_DAYS or visit.weekday() >= 5:
        raise client_fault("tanggal kedatangan harus hari kerja dalam 60 hari ke depan", kode="IMI-14")
    if registry.bookings[(kanim, visit)] >= registry.daily_quota:
        raise client_fault("kuota kantor imigrasi pada tanggal tersebut sudah penuh", kode="IMI-15")
    registry.bookings[(kanim, visit)] += 1
    digest = hashlib.sha256(f"{key}|{nik}".encode()).hexdigest()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    details = [
        b.el("nomorPermohonan", f"{kanim}-{visit:%Y%m%d}-{digest[:8].upper()}"),
        b.el("kodeBilling", f"820{int(digest[8:24], 16) % 10**12:012d}"),
        b.el("jumlahBayar", FEES[kind]),
        b.el("batasPembayaran", now + PAYMENT_WINDOW),
        b.el("kantorImigrasi", KANIM[kanim]),
        b.el("tanggalKedatangan", visit),
    ]
    return AGENCY.reply(call, "00", "PERMOHONAN DITERIMA, SEGERA LAKUKAN PEMBAYARAN", details)


OPERATIONS = {"CariPasporByNIK": cari_paspor, "CekKoneksi": AGENCY.status("TERHUBUNG"), "PermohonanPaspor": permohonan}


def simulator(
    population: Population,
    *,
    users: Mapping[str, str] | None = None,
    today: dt.date | None = None,
    daily_quota: int = 100,
) -> FastAPI:
    """The Imigrasi passport service over `population` as a FastAPI app (`app.state.control` drives its faults)."""
    return AGENCY.serve(Registry(population, daily_quota), OPERATIONS, users=users, today=today)


sim_config = AGENCY.sim_config


def contract_samples(population: Population) -> dict[str, Any]:
    """What the contract kit (connectors/contract) asks this simulator:a passport holder, and an application from a
    living person with an appointment in two weeks."""
    found = next(p for p in population.people if traveller_of(population, p) is not None)
    person = population.ordinary()[0]
    visit = working_day(14, today_wib())
    return {
        "found": found.nik,
        "service": "passport_application",
        "payload": {
            "nik": person.nik,
            "namaLengkap": person.name,
            "tanggalLahir": person.birth_date.isoformat(),
            "jenisPaspor": "ELEKTRONIK",
            "kodeKanim": "JKTSEL",
            "tanggalKedatangan": visit.isoformat(),
            "tujuan": "WISATA",
        },
    }
