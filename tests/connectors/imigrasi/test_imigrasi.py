"""Imigrasi passport client against its simulator over real HTTP on loopback: the data and the application rules.

The protocol behaviour every SOAP connector shares (WS-Security both ways, ?wsdl, fault modes) is tested for all
of them in tests/connectors/test_soap.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from connectors.base import AgencyRejected, FacetStatus
from connectors.imigrasi import PLUGIN
from connectors.imigrasi.simulator import traveller_of, validity_years
from connectors.simkit.population import Population
from connectors.imigrasi.facet import PassportsFacet, PassportStatus, PassportType
from mappings.engine import load_mapping
from tests.connectors.helpers import run as run_client
from tests.connectors.helpers import assert_agency_spelling, simulated_agency

TODAY = dt.date(2025, 6, 2)  # a Monday


server, config = simulated_agency(PLUGIN, today=TODAY, daily_quota=2)


def run(config: dict[str, str], action: Any) -> Any:
    return run_client(PLUGIN, config, action)


def travellers(population: Population) -> list[tuple[Any, Any]]:
    return [(p, t) for p in population.people if (t := traveller_of(population, p)) is not None]


def test_found_returns_the_passport_history_newest_first(population: Population, config: dict[str, str]) -> None:
    person, traveller = next((p, t) for p, t in travellers(population)
                             if t.holder.variant is None and len(t.passports) > 1)
    result = run(config, lambda c: c.lookup(person.nik))
    assert result.status is FacetStatus.ok and result.agency == "imigrasi"
    assert result.fields["pemilik"]["namaLengkap"] == person.name
    passports = result.fields["daftarPaspor"]
    assert [p["nomorPaspor"] for p in passports] == [p.number for p in traveller.passports]
    issued = [p["tanggalTerbit"] for p in passports]
    assert issued == sorted(issued, reverse=True)
    for item in passports:
        assert item["jenis"] in {"BIASA", "ELEKTRONIK"} and item["kantorImigrasi"].startswith("KANTOR IMIGRASI")
        assert item["status"] in {"BERLAKU", "HABIS BERLAKU", "DIBATALKAN"}


def test_validity_is_ten_years_for_adults_since_october_2022() -> None:
    birth = dt.date(1990, 1, 1)
    assert validity_years(dt.date(2022, 10, 11), birth) == 5
    assert validity_years(dt.date(2022, 10, 12), birth) == 10
    assert validity_years(dt.date(2023, 1, 1), dt.date(2010, 1, 1)) == 5   # a child


def test_never_held_a_passport_is_not_found(population: Population, config: dict[str, str]) -> None:
    person = next(p for p in population.people if traveller_of(population, p) is None)
    result = run(config, lambda c: c.lookup(person.nik))
    assert result.status is FacetStatus.not_found and result.agency_code == "01"


def test_conflict_person_carries_another_spelling(population: Population, config: dict[str, str]) -> None:
    person, traveller = next((p, t) for p, t in travellers(population) if t.holder.variant is not None)
    assert_agency_spelling(PLUGIN, config, person, traveller.holder)


def test_mapping_applied_to_a_real_lookup_gives_the_facet(population: Population, config: dict[str, str]) -> None:
    person, traveller = travellers(population)[0]
    facet = load_mapping(PLUGIN.mapping).apply(run(config, lambda c: c.lookup(person.nik)).fields)
    assert isinstance(facet, PassportsFacet)
    assert [p.number for p in facet.passports] == [p.number for p in traveller.passports]
    for passport in facet.passports:
        assert isinstance(passport.passport_type, PassportType) and isinstance(passport.status, PassportStatus)
        assert passport.valid_until > passport.issued_on
        assert passport.status is not PassportStatus.valid or passport.valid_until >= TODAY


def test_bad_nik_is_a_client_fault(config: dict[str, str]) -> None:
    with pytest.raises(AgencyRejected) as caught:
        run(config, lambda c: c.lookup("12345"))
    assert caught.value.code == "IMI-01"


# --- phase 2: passport application --------------------------------------------------------------------------------

VISIT = "2025-06-10"  # a Tuesday, within 60 days of TODAY


def application(person: Any, **changes: str) -> dict[str, str]:
    payload = {"nik": person.nik, "namaLengkap": person.name, "tanggalLahir": person.birth_date.isoformat(),
               "jenisPaspor": "ELEKTRONIK", "kodeKanim": "JKTSEL", "tanggalKedatangan": VISIT, "tujuan": "WISATA"}
    return {**payload, **changes}


def stats(server: Any) -> dict[str, Any]:
    return httpx.get(f"{server.url}/_sim/stats").json()


def test_application_is_billed_and_deduplicated(population: Population, server: Any, config: dict[str, str]) -> None:
    person = population.ordinary()[0]

    async def twice(client: Any) -> list[Any]:
        payload = application(person, kodeKanim="BDG")
        return [await client.submit("passport_application", payload, "trx-1"),
                await client.submit("passport_application", payload, "trx-1")]

    first, again = run(config, twice)
    assert first.reference == again.reference and first.reference.startswith("BDG-20250610-")
    assert first.detail["jumlahBayar"] == "650000" and len(first.detail["kodeBilling"]) == 15
    deadline = dt.datetime.fromisoformat(first.detail["batasPembayaran"])
    assert dt.timedelta(hours=1, minutes=55) < deadline - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(hours=2)
    assert stats(server)["submissions"] == {"trx-1": 2}


@pytest.mark.parametrize("change,kode", [
    ({"namaLengkap": "NAMA LAIN SEKALI"}, "IMI-12"),
    ({"tanggalLahir": "1900-01-01"}, "IMI-12"),
    ({"tanggalKedatangan": "2025-06-14"}, "IMI-14"),      # a Saturday
    ({"tanggalKedatangan": "2025-12-01"}, "IMI-14"),      # beyond 60 days
])
def test_applications_refused_by_imigrasi(population: Population, config: dict[str, str], change: dict[str, str],
                                          kode: str) -> None:
    with pytest.raises(AgencyRejected) as caught:
        run(config, lambda c: c.submit("passport_application", application(population.ordinary()[1], **change),
                                       f"trx-{kode}"))
    assert caught.value.code == kode


def test_an_unknown_office_is_refused_before_the_agency(population: Population, server: Any,
                                                       config: dict[str, str]) -> None:
    """The office codes are the schema's enum (KANTOR_IMIGRASI): "TGR" never reaches Imigrasi to come back IMI-13."""
    with pytest.raises(AgencyRejected) as caught:
        run(config, lambda c: c.submit("passport_application", application(population.ordinary()[1], kodeKanim="TGR"),
                                       "trx-unknown-office"))
    assert caught.value.code is None and "kodeKanim" in caught.value.message
    assert "trx-unknown-office" not in stats(server)["submissions"]


def test_nik_unknown_to_dukcapil_is_refused(population: Population, config: dict[str, str]) -> None:
    for person in (population.special("unknown")[0], population.special("deceased")[0]):
        with pytest.raises(AgencyRejected) as caught:
            run(config, lambda c: c.submit("passport_application", application(person), f"trx-{person.index}"))
        assert caught.value.code == "IMI-11"


def test_office_quota_per_day(population: Population, config: dict[str, str]) -> None:
    # the fixture's simulator takes two appointments per office per day
    people = population.ordinary()[2:5]

    async def book_all(client: Any) -> list[Any]:
        results = []
        for person in people:
            try:
                results.append(await client.submit("passport_application",
                                                   application(person, kodeKanim="SBY", tanggalKedatangan="2025-06-11"),
                                                   f"trx-quota-{person.index}"))
            except AgencyRejected as exc:
                results.append(exc.code)
        return results

    first, second, third = run(config, book_all)
    assert first.reference != second.reference and third == "IMI-15"


def test_payload_outside_the_schema_is_rejected_before_sending(population: Population, server: Any,
                                                               config: dict[str, str]) -> None:
    with pytest.raises(AgencyRejected, match="jenisPaspor"):
        run(config, lambda c: c.submit("passport_application",
                                       application(population.ordinary()[0], jenisPaspor="DIPLOMATIK"), "trx-x"))
    assert stats(server)["requests"] == 0
