"""A simulator of the Korlantas SIM web service (SOAP 1.1, WS-Security UsernameToken), our own design.

No public specification of the Korlantas service exists; the contract in `service.wsdl` is Gerbang's, in the style
of Indonesian government SOAP services. The data is derived per person with `population.rng(person, "korlantas")`
in a fixed order, anchored at a fixed date so it does not drift with the calendar: about 65 % of adults hold one or
more licences (C most often, then A; B1/B2 rarer), each card valid five years from its issue; some holders stopped
renewing (KEDALUWARSA), a few cards are blocked (DIBLOKIR). About 5 % of holders are on file with another name
spelling or birth date than Dukcapil's. Renewal (`PerpanjanganSIM`) follows the rules in ../shared/agencies.md:
SIM A and C only, the SIM number must belong to the NIK, e-Rikkes and e-PPSI references required; the idempotency
key (SOAP header `KunciIdempotensi`) makes a repeat return the first reference.

Options: `users` ({user: password}, default the demo account), `today` (the date statuses are judged against).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from lxml import etree

from connectors.simkit.attributes import add_years
from connectors.simkit.envelope import client_fault
from connectors.simkit.population import Register
from connectors.simkit.soap import Call, Holder, SoapAgency, card_status, holder_as_known

if TYPE_CHECKING:
    from connectors.simkit.population import Person, Population

AGENCY = SoapAgency.from_wsdl(
    "Korlantas SIM", Path(__file__).with_name("service.wsdl"), prefix="sim", demo_password="korlantas-demo-rahasia"
)
DATA_END = dt.date(2024, 12, 31)  # licences are issued up to this date, so the data is the same every day
HOLDER_SHARE = 0.65
VALIDITY_YEARS = 5
RENEWABLE = frozenset({"A", "C"})
_REF = re.compile(r"[A-Z0-9][A-Z0-9\-/]{5,39}")

b = AGENCY.builder


@dataclass(frozen=True)
class Licence:
    number: str
    kind: str  # golongan
    issued: dt.date
    blocked: bool
    office: str

    @property
    def valid_until(self) -> dt.date:
        return add_years(self.issued, VALIDITY_YEARS)


@dataclass(frozen=True)
class Driver:
    holder: Holder
    birth_place: str
    licences: tuple[Licence, ...]


def driver_of(population: Population, person: Person) -> Driver | None:
    """The person's licences as Korlantas holds them, or None when they hold none (not on file)."""
    rng = population.rng(person, "korlantas")
    adult_from = add_years(person.birth_date, 17)
    if adult_from > DATA_END or rng.random() >= HOLDER_SHARE:
        return None
    wanted = ["C"] if rng.random() < 0.85 else []
    if rng.random() < 0.5 or not wanted:
        wanted.append("A")
        if rng.random() < 0.10:
            wanted.append("B1")
            if rng.random() < 0.3:
                wanted.append("B2")
    office = f"SATPAS POLRES {person.regency.removeprefix('KABUPATEN ')}"
    licences = []
    for kind in wanted:
        first = adult_from + dt.timedelta(days=rng.randint(0, 13 * 365))
        if first > DATA_END:
            continue
        renewals = (DATA_END - first).days // (VALIDITY_YEARS * 365)
        lapsed = rng.random() < 0.2
        issued = add_years(first, VALIDITY_YEARS * max(0, renewals - (rng.randint(1, 2) if lapsed else 0)))
        serial = rng.randint(0, 999_999)
        number = f"{person.birth_date:%m%y}{person.province_code[:2]:0>2}{serial:06d}"
        licences.append(Licence(number, kind, issued, rng.random() < 0.02, office))
    if not licences:
        return None
    holder = holder_as_known(person.name, person.birth_date, person.sex, rng)
    return Driver(holder, person.birth_place, tuple(licences))


HOLDER = ("nama", "tempatLahir", "tanggalLahir", "jenisKelamin")  # the WSDL's Pemegang, in its order
SIM = ("nomorSIM", "golongan", "tanggalTerbit", "berlakuSampai", "status", "satpasPenerbit")
SIM_STATUS = ("DIBLOKIR", "AKTIF", "KEDALUWARSA")  # blocked, valid, expired


def cek_sim(call: Call[Register[Driver]]) -> etree._Element:
    """CekSIMByNIK: the holder and every licence on file, or kodeRespon 01."""
    driver = call.state.get(call.request.nik("SIM-01"))
    if driver is None:
        return AGENCY.reply(call, "01", "DATA SIM TIDAK DITEMUKAN")
    reply = AGENCY.reply(call, "00", "DATA DITEMUKAN")
    holder = driver.holder
    b.fields(reply, "pemegang", HOLDER, (holder.name, driver.birth_place, holder.birth_date, holder.sex))
    listing = b.sub(reply, "daftarSIM")
    for lic in driver.licences:
        status = card_status(call.today, lic.valid_until, lic.blocked, SIM_STATUS)
        b.fields(listing, "sim", SIM, (lic.number, lic.kind, lic.issued, lic.valid_until, status, lic.office))
    return reply


def perpanjangan(call: Call[Register[Driver]]) -> etree._Element:
    """PerpanjanganSIM: renew a SIM A or C whose number belongs to the NIK; deduplicated by KunciIdempotensi."""
    key = call.request.required_header("KunciIdempotensi", kode="SIM-20")
    return call.replies.once(key, partial(renewal, call, key))


def renewal(call: Call[Register[Driver]], key: str) -> etree._Element:
    """The renewal's rules, and its reply when they are met."""
    request, drivers, today = call.request, call.state, call.today
    nik, number, kind = request.nik("SIM-01"), request.text("nomorSIM"), request.text("golongan")
    rikkes, ppsi = request.text("nomorRikkes"), request.text("nomorPsikologi")
    if kind not in RENEWABLE:
        raise client_fault(f"perpanjangan daring hanya untuk SIM A dan C, bukan {kind}", kode="SIM-12")
    for label, ref in (("nomorRikkes", rikkes), ("nomorPsikologi", ppsi)):
        if not _REF.fullmatch(ref or ""):
            raise client_fault(f"{label} tidak valid", kode="SIM-13")
    driver = drivers.get(nik)
    licence = next((item for item in driver.licences if item.number == number), None) if driver else None
    if licence is None:
        raise client_fault("nomor SIM tidak terdaftar atas NIK tersebut", kode="SIM-11")
    if licence.kind != kind:
        raise client_fault("golongan tidak sesuai dengan nomor SIM", kode="SIM-14")
    if licence.blocked:
        raise client_fault("SIM diblokir; perpanjangan harus di SATPAS", kode="SIM-15")
    reference = "PSIM-" + hashlib.sha256(f"{key}|{nik}|{number}".encode()).hexdigest()[:12].upper()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    new_start = max(today, licence.valid_until)
    details = [
        b.el("nomorPermohonan", reference),
        b.el("tanggalPermohonan", now),
        b.el("berlakuSampaiBaru", add_years(new_start, VALIDITY_YEARS)),
    ]
    return AGENCY.reply(call, "00", "PERMOHONAN DITERIMA", details)


OPERATIONS = {"CekSIMByNIK": cek_sim, "CekStatusLayanan": AGENCY.status("AKTIF"), "PerpanjanganSIM": perpanjangan}


def simulator(
    population: Population, *, users: Mapping[str, str] | None = None, today: dt.date | None = None
) -> FastAPI:
    """The Korlantas SIM service over `population` as a FastAPI app (`app.state.control` drives its faults)."""
    return AGENCY.serve(Register(population, partial(driver_of, population)), OPERATIONS, users=users, today=today)


sim_config = AGENCY.sim_config


def contract_samples(population: Population) -> dict[str, Any]:
    """What the contract kit (connectors/contract) asks this simulator:a driver and the renewal of a SIM A or C they
    hold."""
    for person in population.people:
        driver = driver_of(population, person)
        licence = (
            next((lic for lic in driver.licences if lic.kind in ("A", "C") and not lic.blocked), None)
            if driver
            else None
        )
        if licence is not None:
            return {
                "found": person.nik,
                "service": "sim_renewal",
                "payload": {
                    "nik": person.nik,
                    "nomorSIM": licence.number,
                    "golongan": licence.kind,
                    "nomorRikkes": "RIKKES-0001",
                    "nomorPsikologi": "PPSI-000001",
                },
            }
    raise LookupError("no Korlantas driver with a renewable SIM")
