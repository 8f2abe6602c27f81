"""OSS RBA client: every real shape of the evidence (tests/connectors/oss/fixtures/, copied from
agency-evidence/fixtures/oss) served from a real loopback server; then the simulator, over real HTTP on loopback;
then a few respx edge cases. Fault modes shared with the other REST simulators are in test_rest_faults.py."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from connectors.base import (AgencyAccessDenied, AgencyProtocolError, AgencyRejected, AgencyTimeout,
                             AgencyUnavailable, FacetStatus, NotSupported)
from connectors.oss import PLUGIN
from connectors.oss.client import OssClient, find_reply, izinstatus
from connectors.oss.codes import ACTOR_TYPES, NIB_STATUSES, SCALES, canonical
from connectors.oss.push import check_push_token, push_token, token_days
from connectors.oss.simdata import OssState, active_licences, decision, owner_of
from connectors.simkit.population import Population
from connectors.simkit.serving import serving
from connectors.oss.facet import ActorType, BusinessFacet, BusinessScale, NibStatus
from mappings.engine import load_mapping
from tests.connectors.helpers import first_known, reset, run_mocked, running_simulator, set_fault, sim_stats
from tests.connectors.helpers import run as run_client

FIXTURES = Path(__file__).parent / "fixtures"
STATUS = PLUGIN.services["license_status"]
FINAL = PLUGIN.services["license_final"]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@contextmanager
def answering(body: Any) -> Iterator[tuple[str, list[tuple[str, dict[str, str], Any]]]]:
    """A loopback server answering every OSS method with `body` (HTTP 200, as OSS does); yields its URL and the
    requests it saw (method, headers, JSON body)."""
    seen: list[tuple[str, dict[str, str], Any]] = []
    app = FastAPI()

    @app.post("/v1/kl/rba/{method}")
    async def any_method(method: str, request: Request) -> JSONResponse:
        seen.append((method, dict(request.headers), json.loads(await request.body())))
        return JSONResponse(body)

    with serving(app) as server:
        yield server.url, seen


def real(url: str, **extra: str) -> dict[str, str]:
    return {"url": url, "user_key": "k-123", **extra}


def run(config: dict[str, str], action: Any) -> Any:
    """Create an OSS client from `config`, run `action(client)`, close the client."""
    return run_client(PLUGIN, config, action)


# --- the evidence's shapes, from a real server -------------------------------------------------------------------


def test_inquery_nib_success_is_read_with_the_guide_codes() -> None:
    with answering(fixture("inqueryNIB_success")) as (url, seen):
        data = run(real(url), lambda c: c.nib("8120106243517"))
        result = run(real(url, nik_method="inqueryNIB"), lambda c: c.lookup("3578034707920002"))
    assert seen[0][0] == "inqueryNIB" and seen[0][2] == {"INQUERYNIB": {"nib": "8120106243517"}}
    assert seen[0][1]["user_key"] == "k-123"
    assert data["nib"] == "8120106243517" and data["status_nib"] == "01"
    assert result.status is FacetStatus.ok
    facet = load_mapping("oss").apply(result.fields)
    business = facet.businesses[0]
    assert business.actor_type is ActorType.business_entity     # Lampiran 18: 01 is Badan Usaha
    assert business.scale is BusinessScale.medium and business.status is NibStatus.active
    assert business.name == "PT SINAR RUNGKUT ABADI" and business.bpjs_tk_npp == "21091736"
    assert facet.full_name == "RATNA DEWI KUSUMA" and facet.sex == "P" and facet.birth_date == dt.date(1992, 7, 7)


def test_inquery_nib_not_found_is_not_found_and_healthy() -> None:
    with answering(fixture("inqueryNIB_not_found")) as (url, _):
        assert run(real(url), lambda c: c.nib("1111111111111")) is None
        health = run(real(url), lambda c: c.health())
        result = run(real(url, nik_method="inqueryNIB"), lambda c: c.lookup("3578034707920002"))
    assert health.up is True
    assert result.status is FacetStatus.not_found and result.agency_code == "400"


@pytest.mark.parametrize("data", [[], {}, None, {"nib": ""}, {"nib": "12"}, "x"])
def test_a_success_lacking_the_nib_is_a_protocol_error(data: Any) -> None:
    reply = {"responinqueryNIB": {"kode": 200, "keterangan": "", "dataNIB": data}}
    with answering(reply) as (url, _):
        with pytest.raises(AgencyProtocolError):
            run(real(url), lambda c: c.nib("8120106243517"))
        with pytest.raises(AgencyProtocolError):
            run(real(url, nik_method="inqueryNIB"), lambda c: c.lookup("3578034707920002"))
        assert run(real(url), lambda c: c.health()).up is False


def test_receive_license_status_sends_exactly_izinstatus() -> None:
    sent = fixture("receiveLicenseStatus_IZINSTATUS_outbound")["IZINSTATUS"]
    payload = {k: v for k, v in sent.items() if v not in ("", False) and k != "data_pnbp"}   # what a region fills
    jsonschema.validate(payload, STATUS)
    with answering(fixture("receiveLicenseStatus_reply_ok")) as (url, seen):
        result = run(real(url), lambda c: c.submit("license_status", payload, "app-1"))
    method, headers, body = seen[0]
    assert method == "receiveLicenseStatus" and headers["user_key"] == "k-123"
    assert body == {"IZINSTATUS": sent}
    assert list(body["IZINSTATUS"]) == list(sent) and list(body["IZINSTATUS"]["data_pnbp"]) == list(sent["data_pnbp"])
    assert result.reference == "I-202502200921407719340" and result.detail["kode"] == 200


def test_receive_license_status_400_is_a_rejection_naming_the_id_izin() -> None:
    payload = {k: v for k, v in fixture("receiveLicenseStatus_IZINSTATUS_outbound")["IZINSTATUS"].items()
               if k != "data_pnbp"}
    with answering(fixture("receiveLicenseStatus_reply_error")) as (url, _):
        with pytest.raises(AgencyRejected, match="I-202502200921407719340") as caught:
            run(real(url), lambda c: c.submit("license_status", payload, "app-2"))
    assert caught.value.code == "400" and "Data izin tidak ditemukan" in caught.value.message


def test_receive_license_sends_izinfinal() -> None:
    payload = FINAL["examples"][0]
    jsonschema.validate(payload, FINAL)
    reply = {"responreceiveLicense": {"kode": 200, "keterangan": "", "nomor_izin": "503/0123/SS/2025",
                                      "jenis_perizinan": "04", "file_lampiran": ""}}
    with answering(reply) as (url, seen):
        result = run(real(url), lambda c: c.submit("license_final", payload, "app-3"))
    assert seen[0][0] == "receiveLicense" and seen[0][2] == {"IZINFINAL": payload}
    assert result.reference == payload["id_izin"] and result.detail["nomor_izin"] == "503/0123/SS/2025"


def test_receive_nib_fixtures_are_what_the_codes_say() -> None:
    push = fixture("receiveNIB_push")["dataNIB"]
    assert canonical(ACTOR_TYPES)[push["jenis_pelaku_usaha"]] == "individual"   # 02 Perseorangan
    assert canonical(SCALES)[push["skala_usaha"]] == "micro"
    assert canonical(NIB_STATUSES) == {"01": "active", "02": "not_yet_active", "03": "business_permitted",
                                       "04": "operation_permitted", "05": "suspended", "06": "revoked"}
    assert {item.value for item in NibStatus} == set(canonical(NIB_STATUSES).values())
    assert {item.value for item in ActorType} == set(canonical(ACTOR_TYPES).values())


def test_lookup_without_a_by_nik_method_is_not_supported() -> None:
    with pytest.raises(NotSupported, match="no lookup by NIK"):
        run(real("http://127.0.0.1:9"), lambda c: c.lookup("3578034707920002"))


@pytest.mark.parametrize("method", ["../inqueryNIB", "inqueryNIB/x", "inqueryNIB?nik=1", "inquery NIB", "x" * 65])
def test_a_by_nik_method_that_is_no_method_name_fails_at_start(method: str) -> None:
    """`nik_method` becomes a segment of the URL path: a value that could climb or add to it is refused when the
    client is built, naming the setting, not sent to OSS at a citizen's lookup."""
    with pytest.raises(ValueError, match="oss: setting nik_method must match"):
        OssClient(real("http://127.0.0.1:9", nik_method=method))


# --- the simulator -----------------------------------------------------------------------------------------------


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


def an_owner(population: Population, state: OssState, *, variant: bool = False) -> Any:
    return first_known(population, state.owners, variant=variant)


def raw(url: str, method: str, body: Any) -> Any:
    return httpx.post(f"{url}/v1/kl/rba/{method}", json=body, headers={"user_key": "oss-demo-user-key"}).json()


def test_simulator_answers_the_guide_shapes(server: Any, population: Population, state: OssState) -> None:
    _, owner = an_owner(population, state)
    found = raw(server.url, "inqueryNIB", {"INQUERYNIB": {"nib": owner.nibs[0].nib}})["responinqueryNIB"]
    expected = fixture("inqueryNIB_success")["responinqueryNIB"]["dataNIB"]
    assert found["kode"] == 200 and set(found["dataNIB"]) == set(expected)
    assert raw(server.url, "inqueryNIB", {"INQUERYNIB": {"nib": "1111111111111"}}) == fixture("inqueryNIB_not_found")
    holder, nib, licence = active_licences(state)[0]
    ok = raw(server.url, "receiveLicenseStatus", {"IZINSTATUS": izinstatus(decision(holder, nib, licence))})
    assert ok == fixture("receiveLicenseStatus_reply_ok")
    stranger = next(n for _, n, _ in active_licences(state) if n.nib != nib.nib)
    wrong = raw(server.url, "receiveLicenseStatus", {"IZINSTATUS": {**izinstatus(decision(holder, nib, licence)),
                                                                 "nib": stranger.nib}})
    assert wrong == fixture("receiveLicenseStatus_reply_error")
    assert raw(server.url, "sendPermohonanIzin", {})["responsendPermohonanIzin"]["kode"] == 404   # not in the guide
    assert raw(server.url, "inqueryNIBByNIK", {})["responinqueryNIBByNIK"]["kode"] == 404


def test_found_through_the_extension(population: Population, state: OssState, config: dict[str, str]) -> None:
    person, owner = an_owner(population, state)
    result = run(config, lambda c: c.lookup(person.nik))
    assert result.status is FacetStatus.ok and result.agency_code == "200"
    assert [n["nib"] for n in result.fields["dataNIB"]] == [n.nib for n in owner.nibs]
    facet = load_mapping("oss").apply(result.fields)
    assert isinstance(facet, BusinessFacet) and facet.full_name == person.name
    scales = canonical(SCALES)
    for business, nib in zip(facet.businesses, owner.nibs, strict=True):
        assert business.nib == nib.nib and business.issued_on == nib.issued
        assert business.scale.value == scales[nib.scale]
        assert business.status.value == canonical(NIB_STATUSES)[nib.status]
        assert business.actor_type.value == canonical(ACTOR_TYPES)[nib.actor]
        assert business.bpjs_tk_npp == nib.npp and business.bpjs_kes_va == nib.va


def test_nobody_holds_nothing_is_not_found(population: Population, state: OssState, config: dict[str, str]) -> None:
    person = next(p for p in population.people if p.nik not in state.owners)
    result = run(config, lambda c: c.lookup(person.nik))
    assert result.status is FacetStatus.not_found and result.fields == {}


def test_shares_of_owners_and_other_spellings(population: Population, state: OssState) -> None:
    owners = len(state.owners)
    assert 0.2 * len(population.people) < owners < 0.4 * len(population.people)
    variants = sum(1 for nik, o in state.owners.items() if o.name != population.by_nik(nik).name)
    assert 0.01 * owners <= variants <= 0.12 * owners
    assert owner_of(population, population.people[0]) == owner_of(population, population.people[0])  # stable
    actors = [n.actor for o in state.owners.values() for n in o.nibs]
    assert actors.count("02") > actors.count("01") > 0    # most NIBs are held by individuals (Perseorangan)


def test_conflict_person_keeps_the_oss_spelling(population: Population, state: OssState,
                                                config: dict[str, str]) -> None:
    person, owner = an_owner(population, state, variant=True)
    facet = load_mapping("oss").apply(run(config, lambda c: c.lookup(person.nik)).fields)
    assert facet.full_name == owner.name != person.name
    assert facet.birth_date == person.birth_date and facet.sex == person.sex


@pytest.mark.parametrize(("style", "as_text", "name"), [
    ("guide", False, "responinqueryNIB"), ("camel", False, "responInqueryNIB"),
    ("inquiry", False, "responinquiryNIB"), ("upper", True, "RESPONINQUERYNIB")])
def test_reply_name_variants_are_tolerated(population: Population, state: OssState, style: str,
                                           as_text: bool, name: str) -> None:
    _, owner = an_owner(population, state)
    nib = owner.nibs[0].nib
    with running_simulator(PLUGIN, population, reply_style=style, kode_as_text=as_text) as running:
        body = raw(running.url, "inqueryNIB", {"INQUERYNIB": {"nib": nib}})
        found = run(PLUGIN.sim_config(running.url), lambda c: c.nib(nib))
    assert list(body) == [name] and body[name]["kode"] == ("200" if as_text else 200)
    assert found["nib"] == nib


def test_find_reply_rules() -> None:
    assert find_reply({"responInquiryNIB": {"kode": 200}}, "inqueryNIB") == {"kode": 200}
    assert find_reply({"RESPONsomething": {"kode": 1}, "other": 2}, "inqueryNIB") == {"kode": 1}
    assert find_reply({"responinqueryNIB": {"kode": 200}, "responX": {}}, "inqueryNIB") == {"kode": 200}
    for body in ({}, {"result": {}}, {"responA": {}, "responB": {}}, {"responinqueryNIB": [1]}, [1]):
        with pytest.raises(AgencyProtocolError):
            find_reply(body, "inqueryNIB")


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


def test_fault_error_is_the_agency_own_error(server: Any, population: Population, config: dict[str, str]) -> None:
    set_fault(server.url, "error")
    answer = httpx.post(f"{server.url}/v1/kl/rba/inqueryNIB", json={"INQUERYNIB": {"nib": "1" * 13}},
                        headers={"user_key": "oss-demo-user-key"})
    assert answer.status_code == 200 and answer.json()["responinqueryNIB"]["kode"] == 500
    with pytest.raises(AgencyUnavailable) as caught:
        run(config, lambda c: c.nib("1" * 13))
    assert caught.value.code == "500"


# --- decisions back to OSS -----------------------------------------------------------------------------------------


def test_decisions_are_recorded_and_counted(server: Any, state: OssState, config: dict[str, str]) -> None:
    holder, nib, licence = active_licences(state)[0]
    payload = decision(holder, nib, licence, "90")
    jsonschema.validate(payload, STATUS)
    first = run(config, lambda c: c.submit("license_status", payload, "app-1"))
    again = run(config, lambda c: c.submit("license_status", payload, "app-1"))
    assert first.reference == again.reference == licence.id_izin
    assert sim_stats(server.url)["submissions"] == {"app-1": 2}
    received = httpx.get(f"{server.url}/_sim/oss/received").json()["statuses"][licence.id_izin]
    assert received[-1]["kd_status"] == "90" and set(received[-1]) == set(
        fixture("receiveLicenseStatus_IZINSTATUS_outbound")["IZINSTATUS"])


def test_decision_refusals(state: OssState, config: dict[str, str]) -> None:
    holder, nib, licence = active_licences(state)[0]
    good = decision(holder, nib, licence)
    for bad in ({**good, "id_izin": "I-000"}, {**good, "nib": "1" * 13}):
        with pytest.raises(AgencyRejected, match="Data izin tidak ditemukan") as caught:
            run(config, lambda c, p=bad: c.submit("license_status", p, "k-bad"))
        assert caught.value.code == "400"
    with pytest.raises(AgencyRejected, match="Parameter"):
        run(config, lambda c: c.submit("license_status", {**good, "kd_status": "77"}, "k-code"))
    with pytest.raises(NotSupported):
        run(config, lambda c: c.submit("license_application", good, "k"))


def test_issued_licence_is_taken(server: Any, state: OssState, config: dict[str, str]) -> None:
    _, nib, licence = active_licences(state)[1]
    payload = {"nib": nib.nib, "id_izin": licence.id_izin, "kd_izin": licence.kd_izin,
               "tgl_terbit_izin": "2025-03-06", "status_izin": "50"}
    jsonschema.validate(payload, FINAL)
    result = run(config, lambda c: c.submit("license_final", payload, "final-1"))
    assert result.reference == licence.id_izin and result.detail["nomor_izin"]


def test_schemas_refuse_bad_payloads_and_keep_their_examples() -> None:
    good = STATUS["examples"][0]
    jsonschema.validate(good, STATUS)
    for bad in ({**good, "nib": "123"}, {**good, "kd_status": "99"}, {**good, "x": 1},
                {**good, "tgl_status": "2025-03-04"}, {k: v for k, v in good.items() if k != "id_izin"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, STATUS)


def test_push_token_recipe() -> None:
    # sha1("gerbang" + "s3cret" + "9120001234567" + "20240115"), computed with sha1sum
    token = push_token("gerbang", "s3cret", "9120001234567", dt.date(2024, 1, 15))
    assert token == "088432f573e7de183a42d8ede56dffd4209a9f27"
    assert check_push_token(token.upper(), "gerbang", "s3cret", "9120001234567", dt.date(2024, 1, 15))
    assert not check_push_token(token, "gerbang", "s3cret", "9120001234567", dt.date(2024, 1, 16))
    wib = dt.timezone(dt.timedelta(hours=7))
    assert token_days(dt.datetime(2024, 1, 16, 0, 5, tzinfo=wib)) == (dt.date(2024, 1, 16), dt.date(2024, 1, 15))
    assert token_days(dt.datetime(2024, 1, 16, 9, 0, tzinfo=wib)) == (dt.date(2024, 1, 16),)
    assert token_days(dt.datetime(2024, 1, 15, 17, 30, tzinfo=dt.timezone.utc)) == (dt.date(2024, 1, 16),)


# --- HTTP edge cases (respx) ---------------------------------------------------------------------------------------

URL = "http://oss.test"
ENDPOINT = f"{URL}/v1/kl/rba/inqueryNIB"


def nib_with(answer: httpx.Response | Exception) -> Any:
    return run_mocked(PLUGIN, {"url": URL, "user_key": "k"}, ENDPOINT, answer, lambda c: c.nib("9120001234567"))


def test_wrong_content_type_is_protocol_error() -> None:
    with pytest.raises(AgencyProtocolError, match="content type"):
        nib_with(httpx.Response(200, text="<html>maintenance</html>", headers={"content-type": "text/html"}))


def test_connection_reset_is_unavailable() -> None:
    with pytest.raises(AgencyUnavailable):
        nib_with(httpx.ReadError("connection reset by peer"))


def test_gateway_403_without_body_is_access_denied() -> None:
    with pytest.raises(AgencyAccessDenied):
        nib_with(httpx.Response(403, text="Forbidden", headers={"content-type": "text/plain"}))


@pytest.mark.parametrize(("kode", "error"), [(400, AgencyRejected), (403, AgencyAccessDenied),
                                             (404, AgencyProtocolError), (405, AgencyAccessDenied),
                                             (504, AgencyTimeout), (299, AgencyProtocolError)])
def test_body_codes(kode: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        nib_with(httpx.Response(200, json={"responinqueryNIB": {"kode": kode, "keterangan": "x"}}))


def test_plugin_is_discovered_through_its_entry_point() -> None:
    from connectors.registry import discover

    plugin = discover()["oss"]
    assert plugin is PLUGIN and plugin.facet == "business" and load_mapping(plugin.mapping).facet == "business"
