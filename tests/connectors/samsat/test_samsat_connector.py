"""Samsat client against its simulator over real HTTP on loopback, plus a few respx edge cases.

The fault modes it shares with the other REST simulators (down, slow, garbage) are tested in
tests/connectors/test_rest_faults.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import jsonschema
import pytest

from connectors.base import (AgencyAccessDenied, AgencyProtocolError, AgencyRejected, AgencyUnavailable,
                             FacetStatus, NotSupported)
from connectors.samsat import PLUGIN
from connectors.samsat.client import SamsatClient, split_plate
from connectors.samsat.simdata import SWDKLLJ, SamsatState
from connectors.simkit.places import bare_regency
from connectors.simkit.population import Population
from connectors.samsat.facet import PlateColour, VehiclesFacet
from mappings.engine import load_mapping
from tests.connectors.helpers import first_known, reset, run_mocked, running_simulator, set_fault, sim_stats
from tests.connectors.helpers import run as run_client

TODAY = dt.date(2025, 3, 15)
SCHEMA = PLUGIN.services["pkb_payment"]


@pytest.fixture(scope="module")
def state(population: Population) -> SamsatState:
    return SamsatState(population)


@pytest.fixture(scope="module")
def server(population: Population) -> Iterator[Any]:
    with running_simulator(PLUGIN, population, today=TODAY) as running:
        yield running


@pytest.fixture
def config(server: Any) -> Iterator[dict[str, str]]:
    """The simulator's demo settings; faults are switched back off after each test."""
    yield PLUGIN.sim_config(server.url)
    reset(server.url)


def run(config: dict[str, str], action: Any) -> Any:
    """Create a Samsat client from `config`, run `action(client)`, close the client."""
    return run_client(PLUGIN, config, action)


def an_owner(population: Population, state: SamsatState, *, variant: bool = False, cars: bool = False) -> Any:
    """The first vehicle owner (under another spelling of the name with `variant`; owning a car with `cars`)."""
    return first_known(population, state.owners, variant=variant,
                       where=lambda owner: not cars or any(v.kind == "R4" for v in owner.vehicles))


# --- lookups ----------------------------------------------------------------------------------------------------


def test_found_returns_west_java_fields(population: Population, state: SamsatState, config: dict[str, str]) -> None:
    person, owner = an_owner(population, state)
    result = run(config, lambda c: c.lookup(person.nik))
    assert result.status is FacetStatus.ok and result.agency_code == "0000"
    assert result.fields["data_wp"]["nm_pemilik"] == person.name + " "
    assert result.fields["data_wp"]["no_ktp"].strip() == person.nik
    first, vehicle = result.fields["list_kbm"][0], owner.vehicles[0]
    plate = first["data_tnkb"]
    assert (plate["tnkb_daerah"], plate["tnkb_nomor"], plate["tnkb_subdaerah"]) == (vehicle.area, vehicle.number,
                                                                                    vehicle.series)
    assert first["th_rakitan"] == str(vehicle.year) and first["kd_plat"] == "1"
    assert first["tg_akhir_pajak"] == vehicle.pkb_due(TODAY).isoformat()
    assert first["tg_akhir_pajak2"] == f"{vehicle.pkb_due(TODAY):%d-%m-%Y}"


def test_reply_carries_the_owners_address_and_office(population: Population, state: SamsatState,
                                                      config: dict[str, str]) -> None:
    """The owner's street (`al_pemilik`) and Samsat office (`nm_kota`, each vehicle's `nm_wil`) reach the reply,
    by NIK and by plate: removing a duplicate plate must not strip them from the owner."""
    person, owner = an_owner(population, state)
    office = bare_regency(person.regency)
    assert person.street and office  # the population gives this owner both
    by_nik = run(config, lambda c: c.lookup(person.nik)).fields
    by_plate = run(config, lambda c: c.lookup_plates(person.nik, [owner.vehicles[0].plate])).fields
    for fields in (by_nik, by_plate):
        assert fields["data_wp"]["al_pemilik"].strip() == person.street
        assert fields["data_wp"]["nm_kota"].strip() == office
        for vehicle in fields["list_kbm"]:
            assert vehicle["al_pemilik"].strip() == person.street and vehicle["nm_wil"].strip() == office


def test_lookup_by_plate_keeps_only_the_citizens_vehicles(population: Population, state: SamsatState,
                                                          config: dict[str, str]) -> None:
    person, owner = an_owner(population, state)
    stranger, theirs = next((p, o) for p, o in ((population.by_nik(n), o) for n, o in state.owners.items())
                            if p.nik != person.nik)
    plates = [owner.vehicles[0].plate.lower(), theirs.vehicles[0].plate, "Z 9999 ZZZ"]
    result = run(config, lambda c: c.lookup_plates(person.nik, plates))
    assert result.status is FacetStatus.ok
    assert [v["no_ktp"].strip() for v in result.fields["list_kbm"]] == [person.nik]  # the stranger's is left out
    facet = load_mapping("samsat").apply(result.fields)
    assert [v.plate for v in facet.vehicles] == [owner.vehicles[0].plate]
    nobody = run(config, lambda c: c.lookup_plates(stranger.nik, [owner.vehicles[0].plate]))
    assert nobody.status is FacetStatus.not_found and nobody.fields == {}
    with pytest.raises(AgencyRejected):
        run(config, lambda c: c.lookup_plates(person.nik, ["not a plate"]))


def test_west_java_by_plate_only_does_not_answer_a_nik(population: Population, state: SamsatState,
                                                       server: Any) -> None:
    """The confirmed West Java lookup is by plate: with the province's default, the record's lookup by NIK is
    NotSupported (the facet says why), never an empty "not found"."""
    person, owner = an_owner(population, state)
    plate_only = {"url": server.url, "api_key": "samsat-demo-api-key", "province": "jabar"}
    with pytest.raises(NotSupported, match="by plate"):
        run(plate_only, lambda c: c.lookup(person.nik))
    result = run(plate_only, lambda c: c.lookup_plates(person.nik, [owner.vehicles[0].plate]))
    assert result.status is FacetStatus.ok


@pytest.mark.parametrize("overrides, complaint", [
    ({"province": "atlantis"}, "unknown province"), ({"lookup_by": "email"}, "lookup_by"),
    ({"path_lookup": "../x"}, "path_lookup"), ({"key_plate": "no polisi"}, "key_plate"),
])
def test_province_settings_are_checked_at_start(overrides: dict[str, str], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        SamsatClient({"url": "http://127.0.0.1:1", "api_key": "k", **overrides})


def test_empty_success_is_a_protocol_error_never_not_found(server: Any, population: Population,
                                                           state: SamsatState, config: dict[str, str]) -> None:
    set_fault(server.url, "empty_success")
    person, owner = an_owner(population, state)
    with pytest.raises(AgencyProtocolError, match="list_kbm"):
        run(config, lambda c: c.lookup(person.nik))
    with pytest.raises(AgencyProtocolError, match="list_kbm"):
        run(config, lambda c: c.lookup_plates(person.nik, [owner.vehicles[0].plate]))


def test_no_vehicle_is_not_found(population: Population, state: SamsatState, config: dict[str, str]) -> None:
    person = next(p for p in population.people if p.nik not in state.owners)
    result = run(config, lambda c: c.lookup(person.nik))
    assert result.status is FacetStatus.not_found and result.agency_code == "0001"
    assert result.fields == {}


def test_shares_of_owners_and_other_spellings(population: Population, state: SamsatState) -> None:
    owners = len(state.owners)
    assert 0.4 * len(population.people) < owners < 0.6 * len(population.people)
    variants = sum(1 for nik, o in state.owners.items() if o.name != population.by_nik(nik).name)
    assert 0.01 * owners <= variants <= 0.12 * owners
    plates = [(v.area, v.number, v.series) for o in state.owners.values() for v in o.vehicles]
    assert len(plates) == len(set(plates))


def test_conflict_person_keeps_the_bpkb_spelling(population: Population, state: SamsatState,
                                                 config: dict[str, str]) -> None:
    person, owner = an_owner(population, state, variant=True)
    facet = load_mapping("samsat").apply(run(config, lambda c: c.lookup(person.nik)).fields)
    assert facet.full_name == owner.name != person.name


def test_mapping_gives_the_vehicles_facet(population: Population, state: SamsatState,
                                          config: dict[str, str]) -> None:
    person, owner = an_owner(population, state, cars=True)
    facet = load_mapping("samsat").apply(run(config, lambda c: c.lookup(person.nik)).fields)
    assert isinstance(facet, VehiclesFacet) and facet.full_name == person.name
    for mapped, vehicle in zip(facet.vehicles, owner.vehicles, strict=True):
        assert mapped.plate == vehicle.plate and mapped.plate_code == "1" and mapped.plate_colour is None
        assert (mapped.brand, mapped.model, mapped.year) == (vehicle.brand, vehicle.model, vehicle.year)
        assert mapped.pkb_due_date == vehicle.pkb_due(TODAY)
        assert mapped.stnk_valid_until == vehicle.stnk_until(TODAY)
        assert mapped.stnk_valid_until >= mapped.pkb_due_date
        assert mapped.pkb_amount is None  # West Java's lookup reply carries no amounts


def test_bad_api_key_is_access_denied(population: Population, state: SamsatState, config: dict[str, str]) -> None:
    bad = {**config, "api_key": "wrong"}
    with pytest.raises(AgencyAccessDenied) as caught:
        run(bad, lambda c: c.lookup(next(iter(state.owners))))
    assert caught.value.code == "0401"
    assert run(bad, lambda c: c.health()).up is False
    assert run(config, lambda c: c.health()).up is True


def test_verify_is_not_supported_and_settings_are_checked(config: dict[str, str]) -> None:
    with pytest.raises(NotSupported):
        run(config, lambda c: c.verify("3201010101010001", {}))
    with pytest.raises(ValueError, match="api_key"):
        SamsatClient({"url": "http://127.0.0.1:1"})


# --- faults -----------------------------------------------------------------------------------------------------


def test_fault_error_is_the_agency_own_error(server: Any, state: SamsatState, config: dict[str, str]) -> None:
    set_fault(server.url, "error")
    raw = httpx.post(f"{server.url}/api/v1/info-pajak", json={"no_ktp": "1" * 16},
                     headers={"X-API-Key": "samsat-demo-api-key"})
    assert raw.status_code == 500 and raw.json()["code"] == "0500" and raw.json()["success"] is False
    with pytest.raises(AgencyUnavailable):
        run(config, lambda c: c.lookup(next(iter(state.owners))))


# --- submissions ------------------------------------------------------------------------------------------------


def test_payment_code_is_idempotent_and_exact(server: Any, population: Population, state: SamsatState,
                                              config: dict[str, str]) -> None:
    person, owner = an_owner(population, state)
    vehicle = owner.vehicles[0]
    payload = {"nik": person.nik, "plate": vehicle.plate.lower(), "year": vehicle.pkb_due(TODAY).year}
    jsonschema.validate(payload, SCHEMA)
    first = run(config, lambda c: c.submit("pkb_payment", payload, "pay-1"))
    again = run(config, lambda c: c.submit("pkb_payment", payload, "pay-1"))
    other = run(config, lambda c: c.submit("pkb_payment", payload, "pay-2"))
    assert first.reference == again.reference != other.reference
    assert len(first.reference) == 16 and first.reference.isdigit()
    expected = vehicle.pkb(TODAY) + SWDKLLJ[vehicle.kind] + vehicle.late_fine(TODAY)
    assert first.detail["amount"] == str(expected) and first.detail["currency"] == "IDR"
    assert first.detail["payment_code"] == first.reference
    assert sim_stats(server.url)["submissions"] == {"pay-1": 2, "pay-2": 1}


def test_payment_code_refusals(population: Population, state: SamsatState, config: dict[str, str]) -> None:
    person, owner = an_owner(population, state)
    vehicle = owner.vehicles[0]
    due_year = vehicle.pkb_due(TODAY).year
    stranger = next(p for p in population.people if p.nik != person.nik)
    cases = [
        ({"nik": stranger.nik, "plate": vehicle.plate, "year": due_year}, "0003", "tidak terdaftar atas NIK"),
        ({"nik": person.nik, "plate": vehicle.plate, "year": due_year + 1}, "0003", "belum jatuh tempo"),
        ({"nik": person.nik, "plate": vehicle.plate, "year": due_year - 1}, "0003", "sudah lunas"),
        ({"nik": person.nik, "plate": "ZZ 9999 ZZZ", "year": due_year}, "0001", "tidak ditemukan"),
    ]
    for n, (payload, code, words) in enumerate(cases):
        with pytest.raises(AgencyRejected, match=words) as caught:
            run(config, lambda c, p=payload, k=f"refuse-{n}": c.submit("pkb_payment", p, k))
        assert caught.value.code == code
    with pytest.raises(AgencyRejected):
        run(config, lambda c: c.submit("pkb_payment", {"nik": person.nik, "plate": "not a plate", "year": 1}, "x"))
    with pytest.raises(NotSupported):
        run(config, lambda c: c.submit("license_application", {}, "x"))


def test_late_payment_carries_a_fine(population: Population, state: SamsatState, config: dict[str, str]) -> None:
    late = next((o, v) for o in state.owners.values() for v in o.vehicles if v.pkb_due(TODAY) < TODAY)
    owner, vehicle = late
    result = run(config, lambda c: c.submit("pkb_payment", {"nik": owner.nik, "plate": vehicle.plate,
                                                            "year": vehicle.pkb_due(TODAY).year}, "late-1"))
    fine = result.detail["agency_fields"]["denda_pkb"]
    assert fine == vehicle.late_fine(TODAY) > 0
    assert int(result.detail["amount"]) == vehicle.pkb(TODAY) + SWDKLLJ[vehicle.kind] + fine


def test_payment_amounts_as_strings_stay_exact(population: Population, state: SamsatState) -> None:
    person, owner = an_owner(population, state)
    vehicle = owner.vehicles[0]
    payload = {"nik": person.nik, "plate": vehicle.plate, "year": vehicle.pkb_due(TODAY).year}
    with running_simulator(PLUGIN, population, amounts="string", today=TODAY) as running:
        result = run(PLUGIN.sim_config(running.url), lambda c: c.submit("pkb_payment", payload, "str-1"))
    expected = vehicle.pkb(TODAY) + SWDKLLJ[vehicle.kind] + vehicle.late_fine(TODAY)
    assert result.detail["amount"] == f"{expected}.00"  # a decimal string, never a float's approximation


def test_plate_split_and_schema() -> None:
    assert split_plate("b 1234 xyz") == ("B", "1234", "XYZ")
    assert split_plate("AB1A") == ("AB", "1", "A")
    with pytest.raises(ValueError):
        split_plate("1234 B")
    for bad in ({"nik": "1" * 16, "plate": "B 1 A"}, {"nik": "1" * 16, "plate": "B 1 A", "year": 2025.5},
                {"nik": "12", "plate": "B 1 A", "year": 2025}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)


# --- HTTP edge cases (respx) ------------------------------------------------------------------------------------

URL = "http://samsat.test"
ENDPOINT = f"{URL}/api/v1/info-pajak"


def lookup_with(answer: httpx.Response | Exception) -> Any:
    return run_mocked(PLUGIN, {"url": URL, "api_key": "k", "lookup_by": "nik"}, ENDPOINT, answer,
                      lambda c: c.lookup("3201010101010001"))


def test_wrong_content_type_is_protocol_error() -> None:
    with pytest.raises(AgencyProtocolError, match="content type"):
        lookup_with(httpx.Response(200, text="<html>ok</html>", headers={"content-type": "text/html"}))


def test_connection_reset_is_unavailable() -> None:
    with pytest.raises(AgencyUnavailable):
        lookup_with(httpx.ConnectError("connection reset by peer"))


@pytest.mark.parametrize(("status", "body", "error"), [
    (400, {"code": "0002", "success": False, "message": "x", "data": None}, AgencyRejected),
    (403, {"code": "0403", "success": False, "message": "x", "data": None}, AgencyAccessDenied),
    (200, {"code": "0503", "success": False, "message": "x", "data": None}, AgencyUnavailable),
    (200, {"code": "9999", "success": False, "message": "x", "data": None}, AgencyProtocolError),
    (200, {"success": True, "data": {}}, AgencyProtocolError),
    (200, {"code": "0000", "success": True, "data": {"data_wp": {}, "list_kbm": []}}, AgencyProtocolError),
    (200, {"code": "0000", "success": True, "data": {"kendaraan": [{"nomor": "1"}]}}, AgencyProtocolError),
    (200, {"code": "0000", "success": False, "data": None}, AgencyProtocolError),
    (404, {"detail": "Not Found"}, AgencyProtocolError),
    (401, {"detail": "no key"}, AgencyAccessDenied),
])
def test_envelope_codes(status: int, body: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        lookup_with(httpx.Response(status, json=body))


def test_plugin_is_discovered_through_its_entry_point() -> None:
    from connectors.registry import discover

    plugin = discover()["samsat"]
    assert plugin is PLUGIN and plugin.facet == "vehicles" and load_mapping(plugin.mapping).facet == "vehicles"
