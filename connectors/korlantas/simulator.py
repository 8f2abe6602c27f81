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
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from lxml import etree

from connectors.simkit.control import SimControl
from connectors.simkit.soap import (
    Builder,
    Holder,
    IdempotentReplies,
    SoapRequest,
    SoapService,
    add_years,
    client_fault,
    holder_as_known,
    mount,
)

if TYPE_CHECKING:
    from connectors.simkit.population import Person, Population

NS = "urn:id:polri:korlantas:sim:v1"
PATH = "/ws/sim"
WSDL = Path(__file__).with_name("service.wsdl")
DEMO_USER, DEMO_PASSWORD = "mpp-gerbang", "korlantas-demo-rahasia"
DATA_END = dt.date(2024, 12, 31)  # licences are issued up to this date, so the data is the same every day
HOLDER_SHARE = 0.65
VALIDITY_YEARS = 5
RENEWABLE = frozenset({"A", "C"})
_NIK = re.compile(r"[0-9]{16}")
_REF = re.compile(r"[A-Z0-9][A-Z0-9\-/]{5,39}")

b = Builder(NS, "sim")


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

    def status(self, today: dt.date) -> str:
        if self.blocked:
            return "DIBLOKIR"
        return "AKTIF" if self.valid_until >= today else "KEDALUWARSA"


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


class Registry:
    """Drivers of one population, computed on first use."""

    def __init__(self, population: Population):
        self.population = population
        self._drivers: dict[str, Driver | None] = {}

    def driver(self, nik: str) -> Driver | None:
        if nik not in self._drivers:
            person = self.population.by_nik(nik)
            self._drivers[nik] = driver_of(self.population, person) if person is not None else None
        return self._drivers[nik]


def _nik(request: SoapRequest) -> str:
    nik = request.text("nik")
    if not _NIK.fullmatch(nik or ""):
        raise client_fault("NIK harus 16 digit angka", kode="SIM-01")
    return nik  # type: ignore[return-value]


def cek_sim(registry: Registry, today: dt.date, request: SoapRequest) -> etree._Element:
    """CekSIMByNIK: the holder and every licence on file, or kodeRespon 01."""
    driver = registry.driver(_nik(request))
    reply = b.el("CekSIMByNIKResponse")
    if driver is None:
        b.sub(reply, "kodeRespon", "01")
        b.sub(reply, "pesan", "DATA SIM TIDAK DITEMUKAN")
        return reply
    b.sub(reply, "kodeRespon", "00")
    b.sub(reply, "pesan", "DATA DITEMUKAN")
    holder = b.sub(reply, "pemegang")
    b.sub(holder, "nama", driver.holder.name)
    b.sub(holder, "tempatLahir", driver.birth_place)
    b.sub(holder, "tanggalLahir", driver.holder.birth_date)
    b.sub(holder, "jenisKelamin", driver.holder.sex)
    listing = b.sub(reply, "daftarSIM")
    for licence in driver.licences:
        sim = b.sub(listing, "sim")
        b.sub(sim, "nomorSIM", licence.number)
        b.sub(sim, "golongan", licence.kind)
        b.sub(sim, "tanggalTerbit", licence.issued)
        b.sub(sim, "berlakuSampai", licence.valid_until)
        b.sub(sim, "status", licence.status(today))
        b.sub(sim, "satpasPenerbit", licence.office)
    return reply


def status_layanan(request: SoapRequest) -> etree._Element:
    """CekStatusLayanan: the cheap call used for health checks."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return b.el("CekStatusLayananResponse", children=[b.el("status", "AKTIF"), b.el("waktuServer", now)])


def perpanjangan(
    registry: Registry, replies: IdempotentReplies, today: dt.date, request: SoapRequest
) -> etree._Element:
    """PerpanjanganSIM: renew a SIM A or C whose number belongs to the NIK; deduplicated by KunciIdempotensi."""
    key = request.header_text("KunciIdempotensi")
    if not key:
        raise client_fault("header KunciIdempotensi wajib diisi", kode="SIM-20")
    earlier = replies.replay(key)
    if earlier is not None:
        return earlier
    nik, number, kind = _nik(request), request.text("nomorSIM"), request.text("golongan")
    rikkes, ppsi = request.text("nomorRikkes"), request.text("nomorPsikologi")
    if kind not in RENEWABLE:
        raise client_fault(f"perpanjangan daring hanya untuk SIM A dan C, bukan {kind}", kode="SIM-12")
    for label, ref in (("nomorRikkes", rikkes), ("nomorPsikologi", ppsi)):
        if not _REF.fullmatch(ref or ""):
            raise client_fault(f"{label} tidak valid", kode="SIM-13")
    driver = registry.driver(nik)
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
    reply = b.el(
        "PerpanjanganSIMResponse",
        children=[
            b.el("kodeRespon", "00"),
            b.el("pesan", "PERMOHONAN DITERIMA"),
            b.el("nomorPermohonan", reference),
            b.el("tanggalPermohonan", now),
            b.el("berlakuSampaiBaru", add_years(new_start, VALIDITY_YEARS)),
        ],
    )
    return replies.keep(key, reply)


def simulator(
    population: Population, *, users: Mapping[str, str] | None = None, today: dt.date | None = None
) -> FastAPI:
    """The Korlantas SIM service over `population` as a FastAPI app (`app.state.control` drives its faults)."""
    app = FastAPI(title="Korlantas SIM (simulator)", docs_url=None, redoc_url=None, openapi_url=None)
    control = SimControl()
    app.state.control = control
    registry, replies = Registry(population), IdempotentReplies(control)

    def day() -> dt.date:
        return today or dt.date.today()

    operations = {
        "CekSIMByNIK": lambda request: cek_sim(registry, day(), request),
        "CekStatusLayanan": status_layanan,
        "PerpanjanganSIM": lambda request: perpanjangan(registry, replies, day(), request),
    }
    service = SoapService(
        path=PATH, wsdl=WSDL, namespace=NS, operations=operations, users=dict(users or {DEMO_USER: DEMO_PASSWORD})
    )
    mount(app, service, control)
    return app


def sim_config(base_url: str) -> dict[str, str]:
    """Client settings that talk to a simulator at `base_url` with its demo account."""
    return {"url": base_url.rstrip("/") + PATH, "user": DEMO_USER, "password": DEMO_PASSWORD, "password_type": "digest"}
