"""Payloads each agency simulator accepts (and some it refuses), drawn from the tests' shared population.

Built from the simulators' own data functions, so a payload here is one the agency would really accept today.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from connectors.bpjs_kesehatan.participants import Registry
from connectors.bpjs_ketenagakerjaan.simulator import employers, member_of
from connectors.korlantas.simulator import driver_of
from connectors.oss.simdata import decision as oss_decision
from connectors.oss.simdata import owner_of as oss_owner
from connectors.samsat.simdata import SamsatState
from connectors.simkit.population import Population
from identity.clock import WIB

Request = dict[str, Any]   # {"nik", "agency", "service", "payload"}


def alive(population: Population) -> list[Any]:
    return [p for p in population.people if p.life_status == "alive" and p.in_dukcapil]


def oss_requests(population: Population) -> Iterator[Request]:
    """The region's decisions (receiveLicenseStatus, approved) on licences of active NIBs (OSS takes any number of
    status updates per licence)."""
    for person in alive(population):
        owner = oss_owner(population, person)
        for nib in owner.nibs if owner else ():
            if nib.status == "01":
                for licence in nib.licences:
                    yield {"nik": person.nik, "agency": "oss", "service": "license_status",
                           "payload": oss_decision(owner, nib, licence)}


def oss_refused(population: Population) -> Request:
    """A decision naming another NIB's licence: OSS answers kode 400 "Data izin tidak ditemukan" (permanent)."""
    requests = list(oss_requests(population))
    first = requests[0]
    second = next(r for r in requests if r["payload"]["nib"] != first["payload"]["nib"])
    return {**first, "payload": {**first["payload"], "id_izin": second["payload"]["id_izin"]}}


def samsat_requests(population: Population, today: dt.date | None = None) -> Iterator[Request]:
    today = today or dt.datetime.now(WIB).date()  # the simulator's calendar: a UTC date is a day behind from 17:00
    state = SamsatState(population)
    for person in alive(population):
        owner = state.owners.get(person.nik)
        for vehicle in owner.vehicles if owner else ():
            yield {"nik": person.nik, "agency": "samsat", "service": "pkb_payment",
                   "payload": {"nik": person.nik, "plate": vehicle.plate, "year": vehicle.pkb_due(today).year}}


def korlantas_requests(population: Population) -> Iterator[Request]:
    for person in alive(population):
        driver = driver_of(population, person)
        for licence in driver.licences if driver else ():
            if licence.kind in {"A", "C"} and not licence.blocked:
                yield {"nik": person.nik, "agency": "korlantas", "service": "sim_renewal",
                       "payload": {"nik": person.nik, "nomorSIM": licence.number, "golongan": licence.kind,
                                   "nomorRikkes": "RIKKES-2025-000123", "nomorPsikologi": "PPSI-2025-000456"}}
                break


def next_workday(today: dt.date | None = None, after_days: int = 7) -> dt.date:
    day = (today or dt.date.today()) + dt.timedelta(days=after_days)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def imigrasi_requests(population: Population) -> Iterator[Request]:
    for offset, person in enumerate(alive(population)):
        yield {"nik": person.nik, "agency": "imigrasi", "service": "passport_application",
               "payload": {"nik": person.nik, "namaLengkap": person.name,
                           "tanggalLahir": person.birth_date.isoformat(), "jenisPaspor": "ELEKTRONIK",
                           "kodeKanim": "JKTSEL", "tanggalKedatangan": next_workday(after_days=3 + offset % 40)
                           .isoformat(), "tujuan": "WISATA"}}


def bpjs_kesehatan_requests(population: Population) -> Iterator[Request]:
    registry = Registry(population)
    for person in alive(population):
        membership = registry.membership(person)
        if membership is None or not membership.active:
            continue
        clinic = next(code for code in registry.clinics if code != membership.clinic.code)
        yield {"nik": person.nik, "agency": "bpjs_kesehatan", "service": "participant_update",
               "payload": {"nik": person.nik, "card_number": membership.card_number, "new_clinic_code": clinic,
                           "reason": "Pindah domisili"}}


def bpjs_ketenagakerjaan_requests(population: Population) -> Iterator[Request]:
    companies = employers(population.seed)
    npp = sorted(companies)[0]
    for person in population.ordinary():
        member = member_of(population, person, companies)
        if member is None or not member.active:
            yield {"nik": person.nik, "agency": "bpjs_ketenagakerjaan", "service": "membership_registration",
                   "payload": {"nik": person.nik, "nama": person.name, "tanggalLahir": person.birth_date.isoformat(),
                               "jenisKelamin": person.sex, "segmen": "PU", "upah": "5000000",
                               "tanggalMulai": dt.date.today().isoformat(), "npp": npp,
                               "daftarProgram": ["JHT", "JKK", "JKM", "JP", "JKP"]}}


BUILDERS = {"oss": oss_requests, "samsat": samsat_requests, "korlantas": korlantas_requests,
            "imigrasi": imigrasi_requests, "bpjs_kesehatan": bpjs_kesehatan_requests,
            "bpjs_ketenagakerjaan": bpjs_ketenagakerjaan_requests}


class Supply:
    """Hands out requests the simulators have not seen yet (they keep state across the test session: a person
    registered with BPJS Ketenagakerjaan once is refused the second time)."""

    def __init__(self, population: Population):
        self.population = population
        self._iterators: dict[str, Iterator[Request]] = {}
        self._bulk: dict[str, list[Request]] = {}
        self._turn: dict[str, int] = {}

    def fresh(self, agency: str) -> Request:
        """A request for a person this supply has not used for `agency` yet."""
        if agency not in self._iterators:
            self._iterators[agency] = BUILDERS[agency](self.population)
        return next(self._iterators[agency])

    def repeatable(self, agency: str = "oss") -> Request:
        """A request that may be sent any number of times under new keys (OSS and Samsat take repeats)."""
        assert agency in ("oss", "samsat")
        pool = self._bulk.setdefault(agency, list(BUILDERS[agency](self.population)))
        turn = self._turn[agency] = self._turn.get(agency, -1) + 1
        return pool[turn % len(pool)]
