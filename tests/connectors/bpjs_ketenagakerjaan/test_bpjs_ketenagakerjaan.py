"""BPJS Ketenagakerjaan client against its simulator over real HTTP on loopback: the data and registration rules.

The protocol behaviour every SOAP connector shares (WS-Security both ways, ?wsdl, fault modes) is tested for all
of them in tests/connectors/test_soap.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from connectors.base import AgencyRejected, FacetStatus
from connectors.bpjs_ketenagakerjaan import PLUGIN
from connectors.bpjs_ketenagakerjaan.simulator import employers, member_of
from connectors.simkit.population import Population
from connectors.bpjs_ketenagakerjaan.facet import EmploymentInsuranceFacet, MembershipStatus, ProgrammeCode, Segment
from mappings.engine import load_mapping
from tests.connectors.helpers import run as run_client
from tests.connectors.helpers import assert_agency_spelling, simulated_agency

TODAY = dt.date(2025, 6, 2)


server, config = simulated_agency(PLUGIN, today=TODAY)


def run(config: dict[str, str], action: Any) -> Any:
    return run_client(PLUGIN, config, action)


def members(population: Population) -> list[tuple[Any, Any]]:
    companies = employers(population.seed)
    return [(p, m) for p in population.people if (m := member_of(population, p, companies)) is not None]


def test_wage_earner_found_with_employer_and_programmes(population: Population, config: dict[str, str]) -> None:
    person, member = next((p, m) for p, m in members(population)
                          if m.segment == "PU" and m.active and m.holder.variant is None)
    result = run(config, lambda c: c.lookup(person.nik))
    assert result.status is FacetStatus.ok and result.agency == "bpjs_ketenagakerjaan"
    peserta = result.fields["peserta"]
    assert (peserta["nomorKPJ"], peserta["nama"], peserta["statusKepesertaan"]) == (member.kpj, person.name, "AKTIF")
    assert result.fields["perusahaan"] == {"npp": member.employer.npp, "namaPerusahaan": member.employer.name}
    codes = {p["kodeProgram"] for p in result.fields["daftarProgram"]}
    assert {"JHT", "JKK", "JKM"} <= codes <= {"JHT", "JKK", "JKM", "JP", "JKP"}


def test_non_wage_earner_has_no_employer_and_no_pension(population: Population, config: dict[str, str]) -> None:
    person, _ = next((p, m) for p, m in members(population) if m.segment == "BPU")
    result = run(config, lambda c: c.lookup(person.nik))
    assert result.fields["perusahaan"] is None
    codes = {p["kodeProgram"] for p in result.fields["daftarProgram"]}
    assert {"JKK", "JKM"} <= codes and not codes & {"JP", "JKP"}


def test_civil_servant_and_non_member_are_not_found(population: Population, config: dict[str, str]) -> None:
    companies = employers(population.seed)
    civil_servant = next(p for p in population.people if p.occupation.startswith("PEGAWAI NEGERI"))
    never = next(p for p in population.people if member_of(population, p, companies) is None
                 and p is not civil_servant)

    async def both(client: Any) -> list[Any]:
        return [await client.lookup(civil_servant.nik), await client.lookup(never.nik)]

    assert [r.status for r in run(config, both)] == [FacetStatus.not_found] * 2


def test_conflict_person_carries_another_spelling(population: Population, config: dict[str, str]) -> None:
    person, member = next((p, m) for p, m in members(population) if m.holder.variant is not None)
    assert_agency_spelling(PLUGIN, config, person, member.holder)


def test_mapping_applied_to_a_real_lookup_gives_the_facet(population: Population, config: dict[str, str]) -> None:
    person, member = next((p, m) for p, m in members(population) if m.segment == "PU")
    facet = load_mapping(PLUGIN.mapping).apply(run(config, lambda c: c.lookup(person.nik)).fields)
    assert isinstance(facet, EmploymentInsuranceFacet)
    assert facet.membership_number == member.kpj and facet.segment is Segment.wage_earner
    assert facet.status is (MembershipStatus.active if member.active else MembershipStatus.inactive)
    assert facet.employer is not None and facet.employer.npp == member.employer.npp
    assert [p.code for p in facet.programmes] == [ProgrammeCode(p.code) for p in member.programmes]
    assert all(p.active is member.active for p in facet.programmes)


def test_bad_nik_is_a_client_fault(config: dict[str, str]) -> None:
    with pytest.raises(AgencyRejected) as caught:
        run(config, lambda c: c.lookup("12345"))
    assert caught.value.code == "TK-01"


# --- phase 2: membership registration -----------------------------------------------------------------------------

def candidates(population: Population) -> list[Any]:
    """Living, registered people who are not active members (never were, or lapsed)."""
    companies = employers(population.seed)
    return [p for p in population.ordinary()
            if (m := member_of(population, p, companies)) is None or not m.active]


def registration(person: Any, employer: str | None, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "nik": person.nik, "nama": person.name, "tanggalLahir": person.birth_date.isoformat(),
        "jenisKelamin": person.sex, "segmen": "PU", "upah": "5000000", "tanggalMulai": TODAY.isoformat(),
        "daftarProgram": ["JHT", "JKK", "JKM", "JP", "JKP"]}
    if employer:
        payload["npp"] = employer
    return {**payload, **changes}


def stats(server: Any) -> dict[str, Any]:
    return httpx.get(f"{server.url}/_sim/stats").json()


def test_registration_is_accepted_deduplicated_and_visible(population: Population, server: Any,
                                                           config: dict[str, str]) -> None:
    person, npp = candidates(population)[0], sorted(employers(population.seed))[0]
    payload = registration(person, npp)

    async def flow(client: Any) -> list[Any]:
        first = await client.submit("membership_registration", payload, "reg-1")
        again = await client.submit("membership_registration", payload, "reg-1")
        try:
            await client.submit("membership_registration", payload, "reg-2")
        except AgencyRejected as exc:
            second: Any = exc.code
        return [first, again, second, await client.lookup(person.nik)]

    first, again, second, lookup = run(config, flow)
    assert first.reference.startswith("REG-") and again.reference == first.reference
    assert first.detail["iuranBulanan"] == "462000"          # 5,000,000 × (5.7 + 0.24 + 0.3 + 3 + 0) %
    assert second == "TK-12"                                 # a new key for the same person: already a member
    assert lookup.fields["peserta"]["statusKepesertaan"] == "AKTIF"
    assert lookup.fields["peserta"]["nomorKPJ"] == first.detail["nomorKPJ"]
    assert lookup.fields["perusahaan"]["npp"] == npp
    assert stats(server)["submissions"] == {"reg-1": 2}


def test_non_wage_earner_contribution(population: Population, config: dict[str, str]) -> None:
    person = candidates(population)[1]
    payload = registration(person, None, segmen="BPU", upah="2000000", daftarProgram=["JKK", "JKM", "JHT"])
    result = run(config, lambda c: c.submit("membership_registration", payload, "reg-bpu"))
    assert result.detail["iuranBulanan"] == "66800"          # 1 % + Rp6,800 + 2 % of 2,000,000


@pytest.mark.parametrize("changes,kode", [
    ({"npp": "00000001"}, "TK-13"),
    ({"daftarProgram": ["JKK", "JKM", "JP"]}, "TK-14"),
    ({"segmen": "BPU", "daftarProgram": ["JKK", "JKM", "JP"]}, "TK-14"),
    ({"nama": "ORANG LAIN"}, "TK-16"),
    ({"upah": "500000"}, "TK-17"),
    ({"tanggalMulai": "2024-01-01"}, "TK-18"),
])
def test_registrations_refused_by_bpjs(population: Population, config: dict[str, str], changes: dict[str, Any],
                                       kode: str) -> None:
    person, npp = candidates(population)[2], sorted(employers(population.seed))[1]
    with pytest.raises(AgencyRejected) as caught:
        run(config, lambda c: c.submit("membership_registration", registration(person, npp, **changes),
                                       f"reg-{kode}"))
    assert caught.value.code == kode


def test_active_member_and_unknown_nik_are_refused(population: Population, config: dict[str, str]) -> None:
    active, _ = next((p, m) for p, m in members(population) if m.active and p.in_dukcapil
                     and p.life_status == "alive")
    npp = sorted(employers(population.seed))[0]
    for person, kode in ((active, "TK-12"), (population.special("unknown")[0], "TK-11")):
        with pytest.raises(AgencyRejected) as caught:
            run(config, lambda c: c.submit("membership_registration", registration(person, npp), f"reg-{kode}-x"))
        assert caught.value.code == kode


def test_wage_earner_without_npp_is_refused_before_sending(population: Population, server: Any,
                                                           config: dict[str, str]) -> None:
    with pytest.raises(AgencyRejected, match="npp"):
        run(config, lambda c: c.submit("membership_registration", registration(candidates(population)[3], None),
                                       "reg-no-npp"))
    assert stats(server)["requests"] == 0
