"""OSS RBA client against its simulator over real HTTP on loopback, plus a few respx edge cases.

The fault modes it shares with the other REST simulators (down, slow, garbage) are tested in
tests/connectors/test_rest_faults.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest

from connectors.base import (AgencyAccessDenied, AgencyProtocolError, AgencyRejected, AgencyTimeout,
                             AgencyUnavailable, FacetStatus, NotSupported)
from connectors.oss import PLUGIN
from connectors.oss.client import OssClient, find_reply
from connectors.oss.push import check_push_token, push_token
from connectors.oss.simulator import OssState, owner_of
from connectors.simkit.population import Population
from identity.facets.business import BusinessFacet, BusinessScale, NibStatus
from mappings.engine import load_mapping
from tests.connectors.helpers import first_known, reset, run_mocked, running_simulator, set_fault, sim_stats
from tests.connectors.helpers import run as run_client

SCHEMA = PLUGIN.services["license_application"]


@pytest.fixture(scope="module")
def state(population: Population) -> OssState:
    return OssState(population)


@pytest.fixture(scope="module")
def server(population: Population) -> Iterator[Any]:
    with running_simulator(PLUGIN, population) as running:
        yield running


@pytest.fixture
def config(server: Any) -> Iterator[dict[str, str]]:
    """The simulator's demo settings; faults are switched back off after each test."""
    yield PLUGIN.sim_config(server.url)
    reset(server.url)


def run(config: dict[str, str], action: Any) -> Any:
    """Create an OSS client from `config`, run `action(client)`, close the client."""
    return run_client(PLUGIN, config, action)


def an_owner(population: Population, state: OssState, *, variant: bool = False, active: bool = False) -> Any:
    """The first NIB owner (under another spelling of the name with `variant`; holding an active NIB with `active`)."""
    return first_known(population, state.owners, variant=variant,
                       where=lambda owner: not active or any(n.status == "01" for n in owner.nibs))


# --- lookups ----------------------------------------------------------------------------------------------------


def test_found_returns_oss_fields(population: Population, state: OssState, config: dict[str, str]) -> None:
    person, owner = an_owner(population, state)
    result = run(config, lambda c: c.lookup(person.nik))
    assert result.status is FacetStatus.ok
    assert result.agency == "oss" and result.agency_code == "200"
    assert result.fields["nomor_identitas_user"] == person.nik
    assert result.fields["nama_user"] == person.name
    assert [n["nib"] for n in result.fields["dataNIB"]] == [n.nib for n in owner.nibs]
    first = result.fields["dataNIB"][0]
    assert len(first["nib"]) == 13 and first["nib"].isdigit()
    assert first["skala_usaha"] in {"01", "02", "03", "04"}
    assert first["status_nib"] in {"01", "02", "03", "04", "05", "06"}
    assert set(first) >= {"tgl_terbit_nib", "oss_id", "jenis_pelaku_usaha", "no_npp", "no_va"}


def test_nobody_owns_nothing_is_not_found(population: Population, state: OssState, config: dict[str, str]) -> None:
    person = next(p for p in population.people if p.nik not in state.owners)
    result = run(config, lambda c: c.lookup(person.nik))
    assert result.status is FacetStatus.not_found
    assert result.fields == {}


def test_shares_of_owners_and_other_spellings(population: Population, state: OssState) -> None:
    owners = len(state.owners)
    assert 0.2 * len(population.people) < owners < 0.4 * len(population.people)
    variants = sum(1 for nik, o in state.owners.items() if o.name != population.by_nik(nik).name)
    assert 0.01 * owners <= variants <= 0.12 * owners
    assert owner_of(population, population.people[0]) == owner_of(population, population.people[0])  # stable


def test_conflict_person_keeps_the_oss_spelling(population: Population, state: OssState,
                                                config: dict[str, str]) -> None:
    person, owner = an_owner(population, state, variant=True)
    result = run(config, lambda c: c.lookup(person.nik))
    facet = load_mapping("oss").apply(result.fields)
    assert facet.full_name == owner.name
    assert facet.full_name != person.name
    assert facet.birth_date == person.birth_date and facet.sex == person.sex


def test_mapping_gives_the_business_facet(population: Population, state: OssState, config: dict[str, str]) -> None:
    person, owner = an_owner(population, state)
    result = run(config, lambda c: c.lookup(person.nik))
    facet = load_mapping("oss").apply(result.fields)
    assert isinstance(facet, BusinessFacet)
    assert facet.full_name == person.name
    scales = {"01": BusinessScale.micro, "02": BusinessScale.small, "03": BusinessScale.medium,
              "04": BusinessScale.large}
    for business, nib in zip(facet.businesses, owner.nibs, strict=True):
        assert business.nib == nib.nib
        assert business.issued_on == nib.issued
        assert business.scale is scales[nib.scale]
        assert business.bpjs_tk_npp == nib.npp and business.bpjs_kes_va == nib.va
    assert facet.businesses[0].status in set(NibStatus)


@pytest.mark.parametrize(("style", "as_text", "name"), [
    ("guide", False, "responinqueryNIBByNIK"), ("camel", False, "responInqueryNIBByNIK"),
    ("inquiry", False, "responinquiryNIBByNIK"), ("upper", True, "RESPONINQUERYNIBBYNIK")])
def test_reply_name_variants_are_tolerated(population: Population, state: OssState, style: str,
                                           as_text: bool, name: str) -> None:
    person, owner = an_owner(population, state)
    with running_simulator(PLUGIN, population, reply_style=style, kode_as_text=as_text) as running:
        raw = httpx.post(f"{running.url}/v1/kl/rba/inqueryNIBByNIK", json={"INQUERYNIBBYNIK": {"nik": person.nik}},
                         headers={"user_key": "oss-demo-user-key"}).json()
        result = run(PLUGIN.sim_config(running.url), lambda c: c.lookup(person.nik))
    assert list(raw) == [name]   # the variant really was sent
    assert raw[name]["kode"] == ("200" if as_text else 200)
    assert result.status is FacetStatus.ok
    assert len(result.fields["dataNIB"]) == len(owner.nibs)


def test_find_reply_rules() -> None:
    assert find_reply({"responInquiryNIB": {"kode": 200}}, "inqueryNIB") == {"kode": 200}
    assert find_reply({"RESPONsomething": {"kode": 1}, "other": 2}, "inqueryNIB") == {"kode": 1}
    assert find_reply({"responinqueryNIB": {"kode": 200}, "responX": {}}, "inqueryNIB") == {"kode": 200}
    for body in ({}, {"result": {}}, {"responA": {}, "responB": {}}, {"responinqueryNIB": [1]}, [1]):
        with pytest.raises(AgencyProtocolError):
            find_reply(body, "inqueryNIB")


def test_inquery_nib_by_number(population: Population, state: OssState, config: dict[str, str]) -> None:
    _, owner = an_owner(population, state)
    found = run(config, lambda c: c.nib(owner.nibs[0].nib))
    assert found["nib"] == owner.nibs[0].nib and found["nama_user"] == owner.name
    assert run(config, lambda c: c.nib("1111111111111")) is None


def test_bad_user_key_is_access_denied(population: Population, config: dict[str, str]) -> None:
    bad = {**config, "user_key": "wrong"}
    with pytest.raises(AgencyAccessDenied) as caught:
        run(bad, lambda c: c.lookup(population.people[0].nik))
    assert caught.value.code == "401"
    health = run(bad, lambda c: c.health())
    assert health.up is False and "401" in (health.detail or "")
    assert run(config, lambda c: c.health()).up is True


def test_verify_is_not_supported(config: dict[str, str]) -> None:
    with pytest.raises(NotSupported):
        run(config, lambda c: c.verify("3201010101010001", {"full_name": "X"}))


def test_missing_settings_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="user_key"):
        OssClient({"url": "http://127.0.0.1:1"})
    with pytest.raises(ValueError, match="timeout_s"):
        OssClient({"url": "http://127.0.0.1:1", "user_key": "k", "timeout_s": "soon"})


# --- faults -----------------------------------------------------------------------------------------------------


def test_fault_error_is_the_agency_own_error(server: Any, population: Population, config: dict[str, str]) -> None:
    set_fault(server.url, "error")
    raw = httpx.post(f"{server.url}/v1/kl/rba/inqueryNIBByNIK", json={"INQUERYNIBBYNIK": {"nik": "1" * 16}},
                     headers={"user_key": "oss-demo-user-key"})
    assert raw.status_code == 200 and raw.json()["responinqueryNIBByNIK"]["kode"] == 500
    with pytest.raises(AgencyUnavailable) as caught:
        run(config, lambda c: c.lookup(population.people[0].nik))
    assert caught.value.code == "500"


# --- submissions ------------------------------------------------------------------------------------------------


def test_licence_application_is_idempotent(server: Any, population: Population, state: OssState,
                                           config: dict[str, str]) -> None:
    person, owner = an_owner(population, state, active=True)
    nib = next(n for n in owner.nibs if n.status == "01")
    payload = {"nib": nib.nib, "kd_izin": "059000000001", "nik": person.nik, "kbli": "47111"}
    jsonschema.validate(payload, SCHEMA)
    first = run(config, lambda c: c.submit("license_application", payload, "app-1"))
    again = run(config, lambda c: c.submit("license_application", payload, "app-1"))
    other = run(config, lambda c: c.submit("license_application", payload, "app-2"))
    assert first.reference.startswith("I-") and first.reference == again.reference
    assert other.reference != first.reference
    assert first.detail["nib"] == nib.nib and first.detail["kd_status"] == "10"
    stats = sim_stats(server.url)
    assert stats["submissions"] == {"app-1": 2, "app-2": 1}


def test_licence_application_refusals(population: Population, state: OssState, config: dict[str, str]) -> None:
    person, owner = an_owner(population, state, active=True)
    nib = next(n for n in owner.nibs if n.status == "01").nib
    stranger = next(p for p in population.people if p.nik != person.nik)
    cases = [
        ({"nib": "1111111111111", "kd_izin": "059000000001"}, "k-unknown", "NIB tidak terdaftar"),
        ({"nib": nib, "kd_izin": "059000000001", "nik": stranger.nik}, "k-stranger", "bukan milik"),
    ]
    for payload, key, words in cases:
        with pytest.raises(AgencyRejected, match=words) as caught:
            run(config, lambda c, p=payload, k=key: c.submit("license_application", p, k))
        assert caught.value.code == "400"
    run(config, lambda c: c.submit("license_application", {"nib": nib, "kd_izin": "A1"}, "k-reused"))
    with pytest.raises(AgencyRejected, match="sudah dipakai"):
        run(config, lambda c: c.submit("license_application", {"nib": nib, "kd_izin": "B2"}, "k-reused"))
    with pytest.raises(NotSupported):
        run(config, lambda c: c.submit("pkb_payment", {}, "k"))


def test_inactive_nib_is_refused(population: Population, state: OssState, config: dict[str, str]) -> None:
    nib = next(n for o in state.owners.values() for n in o.nibs if n.status != "01")
    with pytest.raises(AgencyRejected, match="tidak aktif"):
        run(config, lambda c: c.submit("license_application", {"nib": nib.nib, "kd_izin": "A1"}, "k-inactive"))


def test_schema_refuses_bad_payloads() -> None:
    for bad in ({"nib": "123", "kd_izin": "A"}, {"nib": "9" * 13}, {"nib": "9" * 13, "kd_izin": "A", "x": 1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)


def test_push_token_recipe() -> None:
    # sha1("gerbang" + "s3cret" + "9120001234567" + "20240115"), computed with sha1sum
    token = push_token("gerbang", "s3cret", "9120001234567", dt.date(2024, 1, 15))
    assert token == "088432f573e7de183a42d8ede56dffd4209a9f27"
    assert check_push_token(token.upper(), "gerbang", "s3cret", "9120001234567", dt.date(2024, 1, 15))
    assert not check_push_token(token, "gerbang", "s3cret", "9120001234567", dt.date(2024, 1, 16))


# --- HTTP edge cases (respx) ------------------------------------------------------------------------------------

URL = "http://oss.test"
ENDPOINT = f"{URL}/v1/kl/rba/inqueryNIBByNIK"


def lookup_with(answer: httpx.Response | Exception) -> Any:
    return run_mocked(PLUGIN, {"url": URL, "user_key": "k"}, ENDPOINT, answer, lambda c: c.lookup("3201010101010001"))


def test_wrong_content_type_is_protocol_error() -> None:
    with pytest.raises(AgencyProtocolError, match="content type"):
        lookup_with(httpx.Response(200, text="<html>maintenance</html>", headers={"content-type": "text/html"}))


def test_connection_reset_is_unavailable() -> None:
    with pytest.raises(AgencyUnavailable):
        lookup_with(httpx.ReadError("connection reset by peer"))


def test_gateway_403_without_body_is_access_denied() -> None:
    with pytest.raises(AgencyAccessDenied):
        lookup_with(httpx.Response(403, text="Forbidden", headers={"content-type": "text/plain"}))


@pytest.mark.parametrize(("kode", "error"), [(400, AgencyRejected), (403, AgencyAccessDenied),
                                             (404, AgencyProtocolError), (405, AgencyAccessDenied),
                                             (504, AgencyTimeout), (299, AgencyProtocolError)])
def test_body_codes(kode: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        lookup_with(httpx.Response(200, json={"responinqueryNIBByNIK": {"kode": kode, "keterangan": "x"}}))


def test_single_datanib_object_is_accepted() -> None:
    result = lookup_with(httpx.Response(200, json={"responInqueryNIBByNIK": {
        "kode": "200", "keterangan": "", "dataNIB": {"nib": "9120001234567", "skala_usaha": "01",
                                                      "status_nib": "01"}}}))
    assert result.status is FacetStatus.ok
    assert load_mapping("oss").apply(result.fields).businesses[0].nib == "9120001234567"


def test_plugin_is_discovered_through_its_entry_point() -> None:
    from connectors.registry import discover

    plugin = discover()["oss"]
    assert plugin is PLUGIN and plugin.facet == "business" and load_mapping(plugin.mapping).facet == "business"
