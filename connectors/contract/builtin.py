"""Contract samples of the seven built-in agencies, drawn from the same synthetic data their simulators serve.

They live here, not in each agency, because the agencies predate `ConnectorPlugin.contract`; each function mirrors
the agency's own rules (see its simulator) so the submission it builds is one the simulator accepts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from identity.clock import WIB


def _living(population: Any) -> Iterator[Any]:
    return (p for p in population.people if p.in_dukcapil and p.life_status == "alive")


def dukcapil(population: Any) -> dict[str, Any]:
    person = next(_living(population))
    return {"found": person.nik, "claims": {"full_name": person.name, "birth_date": person.birth_date.isoformat()}}


def samsat(population: Any) -> dict[str, Any]:
    from connectors.samsat.simdata import SamsatState

    today = dt.datetime.now(WIB).date()
    owner = next(iter(SamsatState(population).owners.values()))
    vehicle = owner.vehicles[0]
    return {
        "found": owner.nik,
        "service": "pkb_payment",
        "payload": {"nik": owner.nik, "plate": vehicle.plate, "year": vehicle.pkb_due(today).year},
    }


def oss(population: Any) -> dict[str, Any]:
    from connectors.oss.simdata import OssState, active_licences, decision

    for owner, nib, licence in active_licences(OssState(population)):
        return {"found": owner.nik, "service": "license_status", "payload": decision(owner, nib, licence)}
    raise LookupError("no OSS holder with an active NIB")


def korlantas(population: Any) -> dict[str, Any]:
    from connectors.korlantas.simulator import driver_of

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


def imigrasi(population: Any) -> dict[str, Any]:
    from connectors.imigrasi.simulator import traveller_of

    found = next(p for p in population.people if traveller_of(population, p) is not None)
    person = next(_living(population))
    visit = dt.date.today() + dt.timedelta(days=14)
    while visit.weekday() >= 5:
        visit += dt.timedelta(days=1)
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


def bpjs_ketenagakerjaan(population: Any) -> dict[str, Any]:
    from connectors.bpjs_ketenagakerjaan.simulator import employers, member_of

    companies = employers(population.seed)
    members = {p.nik: member_of(population, p, companies) for p in _living(population)}
    found = next(nik for nik, member in members.items() if member is not None)
    person = next(p for p in _living(population) if (member := members[p.nik]) is None or not member.active)
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
            "tanggalMulai": dt.date.today().isoformat(),
            "npp": next(iter(companies)),
            "daftarProgram": ["JHT", "JKK", "JKM", "JP", "JKP"],
        },
    }


def bpjs_kesehatan(population: Any) -> dict[str, Any]:
    from connectors.bpjs_kesehatan.participants import Registry

    registry = Registry(population)
    for person in _living(population):
        membership = registry.membership(person)
        if membership is not None and membership.active and membership.card_number:
            clinic = next(code for code in registry.clinics if code != membership.clinic.code)
            return {
                "found": person.nik,
                "service": "participant_update",
                "payload": {
                    "nik": person.nik,
                    "card_number": membership.card_number,
                    "new_clinic_code": clinic,
                    "reason": "Pindah domisili",
                },
            }
    raise LookupError("no active BPJS Kesehatan participant")


BUILTIN: dict[str, Callable[[Any], dict[str, Any]]] = {
    "dukcapil": dukcapil,
    "samsat": samsat,
    "oss": oss,
    "korlantas": korlantas,
    "imigrasi": imigrasi,
    "bpjs_ketenagakerjaan": bpjs_ketenagakerjaan,
    "bpjs_kesehatan": bpjs_kesehatan,
}
