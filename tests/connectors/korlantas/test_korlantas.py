"""Korlantas SIM client against its simulator over real HTTP on loopback: the data and the renewal rules.

The protocol behaviour every SOAP connector shares (WS-Security both ways, ?wsdl, fault modes) is tested for all
of them in tests/connectors/test_soap.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from connectors.base import AgencyRejected, FacetStatus, NotSupported
from connectors.korlantas import PLUGIN
from connectors.korlantas.client import KorlantasClient
from connectors.korlantas.simulator import driver_of
from connectors.simkit.population import Population
from connectors.korlantas.facet import DrivingLicencesFacet, LicenceStatus
from mappings.engine import load_mapping
from tests.connectors.helpers import run as run_client
from tests.connectors.helpers import assert_agency_spelling, simulated_agency

TODAY = dt.date(2025, 6, 1)


server, config = simulated_agency(PLUGIN, today=TODAY)


def run(config: dict[str, str], action: Any) -> Any:
    return run_client(PLUGIN, config, action)


def drivers(population: Population) -> list[tuple[Any, Any]]:
    return [(p, d) for p in population.people if (d := driver_of(population, p)) is not None]


def test_found_returns_every_licence_with_five_year_validity(population: Population, config: dict[str, str]) -> None:
    person, driver = next((p, d) for p, d in drivers(population) if d.holder.variant is None)
    result = run(config, lambda c: c.lookup(person.nik))
    assert result.status is FacetStatus.ok and result.agency == "korlantas"
    assert result.fields["pemegang"]["nama"] == person.name
    assert result.fields["pemegang"]["tanggalLahir"] == person.birth_date.isoformat()
    sims = result.fields["daftarSIM"]
    assert [s["nomorSIM"] for s in sims] == [lic.number for lic in driver.licences]
    for sim in sims:
        issued, until = dt.date.fromisoformat(sim["tanggalTerbit"]), dt.date.fromisoformat(sim["berlakuSampai"])
        assert until == issued.replace(year=issued.year + 5) or (issued.month, issued.day) == (2, 29)
        assert sim["status"] in {"AKTIF", "KEDALUWARSA", "DIBLOKIR"}
        assert sim["status"] != "AKTIF" or until >= TODAY


def test_not_registered_is_not_found(population: Population, config: dict[str, str]) -> None:
    person = next(p for p in population.people if driver_of(population, p) is None)
    unknown = "3276014101990001" if population.by_nik("3276014101990001") is None else "3276014101990002"

    async def both(client: KorlantasClient) -> tuple[Any, Any]:
        return await client.lookup(person.nik), await client.lookup(unknown)

    for result in run(config, both):
        assert result.status is FacetStatus.not_found
        assert result.fields == {}


def test_conflict_person_carries_another_spelling(population: Population, config: dict[str, str]) -> None:
    person, driver = next((p, d) for p, d in drivers(population) if d.holder.variant is not None)
    assert_agency_spelling(PLUGIN, config, person, driver.holder)


def test_variant_share_is_about_five_percent(population: Population) -> None:
    found = drivers(population)
    share = sum(d.holder.variant is not None for _, d in found) / len(found)
    assert 0.01 <= share <= 0.12


def test_mapping_applied_to_a_real_lookup_gives_the_facet(population: Population, config: dict[str, str]) -> None:
    person, driver = drivers(population)[0]
    facet = load_mapping(PLUGIN.mapping).apply(run(config, lambda c: c.lookup(person.nik)).fields)
    assert isinstance(facet, DrivingLicencesFacet)
    assert facet.sex == person.sex
    assert [(lic.number, lic.licence_class) for lic in facet.licences] == [
        (lic.number, lic.kind) for lic in driver.licences]
    assert all(isinstance(lic.status, LicenceStatus) and lic.valid_until for lic in facet.licences)


def test_bad_nik_is_a_client_fault(config: dict[str, str]) -> None:
    with pytest.raises(AgencyRejected) as caught:
        run(config, lambda c: c.lookup("12345"))
    assert caught.value.code == "SIM-01"


# --- phase 2: SIM renewal -----------------------------------------------------------------------------------------

def renewable(population: Population, *, blocked: bool = False) -> tuple[Any, Any]:
    """A person and one of their SIM A/C licences (blocked or not)."""
    return next((p, lic) for p, d in drivers(population) for lic in d.licences
                if lic.kind in {"A", "C"} and lic.blocked is blocked)


def renewal(person: Any, licence: Any, **changes: str) -> dict[str, str]:
    payload = {"nik": person.nik, "nomorSIM": licence.number, "golongan": licence.kind,
               "nomorRikkes": "RIKKES-2025-000123", "nomorPsikologi": "PPSI-2025-000456"}
    return {**payload, **changes}


def stats(server: Any) -> dict[str, Any]:
    return httpx.get(f"{server.url}/_sim/stats").json()


def test_renewal_is_accepted_once_per_idempotency_key(population: Population, server: Any,
                                                      config: dict[str, str]) -> None:
    person, licence = renewable(population)

    async def three(client: KorlantasClient) -> list[Any]:
        payload = renewal(person, licence)
        return [await client.submit("sim_renewal", payload, "kunci-1"),
                await client.submit("sim_renewal", payload, "kunci-1"),
                await client.submit("sim_renewal", payload, "kunci-2")]

    first, again, other = run(config, three)
    assert first.reference.startswith("PSIM-") and first.agency == "korlantas"
    assert again.reference == first.reference and other.reference != first.reference
    assert dt.date.fromisoformat(first.detail["berlakuSampaiBaru"]) >= TODAY.replace(year=TODAY.year + 5)
    assert stats(server)["submissions"] == {"kunci-1": 2, "kunci-2": 1}


def test_sim_number_of_someone_else_is_rejected(population: Population, config: dict[str, str]) -> None:
    (person, licence), (other, _) = renewable(population), drivers(population)[-1]
    with pytest.raises(AgencyRejected) as caught:
        run(config, lambda c: c.submit("sim_renewal", renewal(other, licence), "kunci-3"))
    assert caught.value.code == "SIM-11" and person is not other


def test_class_b1_is_refused_by_the_schema_and_by_korlantas(population: Population, server: Any,
                                                            config: dict[str, str]) -> None:
    person, licence = next((p, lic) for p, d in drivers(population) for lic in d.licences if lic.kind == "B1")
    payload = renewal(person, licence)
    with pytest.raises(AgencyRejected, match="golongan"):
        run(config, lambda c: c.submit("sim_renewal", payload, "kunci-4"))
    assert stats(server)["requests"] == 0  # refused before anything was sent

    async def raw(client: KorlantasClient) -> Any:
        return await client.session.call("PerpanjanganSIM", **payload, _soapheaders={"kunci": "kunci-5"})

    with pytest.raises(AgencyRejected) as caught:
        run(config, raw)
    assert caught.value.code == "SIM-12" and stats(server)["submissions"] == {}


def test_blocked_card_and_wrong_class_are_rejected(population: Population, config: dict[str, str]) -> None:
    person, licence = renewable(population, blocked=True)
    with pytest.raises(AgencyRejected) as caught:
        run(config, lambda c: c.submit("sim_renewal", renewal(person, licence), "kunci-6"))
    assert caught.value.code == "SIM-15"
    person, licence = renewable(population)
    wrong = "C" if licence.kind == "A" else "A"
    with pytest.raises(AgencyRejected) as caught:
        run(config, lambda c: c.submit("sim_renewal", renewal(person, licence, golongan=wrong), "kunci-7"))
    assert caught.value.code == "SIM-14"


def test_renewal_without_idempotency_header_is_a_client_fault(population: Population,
                                                                config: dict[str, str]) -> None:
    person, licence = renewable(population)
    with pytest.raises(AgencyRejected) as caught:
        run(config, lambda c: c.session.call("PerpanjanganSIM", **renewal(person, licence)))
    assert caught.value.code == "SIM-20"


def test_unknown_service_is_not_supported(config: dict[str, str]) -> None:
    with pytest.raises(NotSupported):
        run(config, lambda c: c.submit("sim_baru", {}, "kunci-8"))
