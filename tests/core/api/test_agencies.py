"""Who reads which agency: a counter that may submit to an agency reads its services and schemas (with examples
and code lists); where the agency is reached, its health and its breaker are for `admin` only."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

OPERATOR_ONLY = {"url", "health", "breaker"}
SUBMITTING = {"bpjs_kesehatan", "bpjs_ketenagakerjaan", "oss", "samsat", "korlantas", "imigrasi"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def api(make_api) -> TestClient:  # type: ignore[no-untyped-def]
    return make_api()


def listing(api: TestClient, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    response = api.get("/v1/agencies", headers=headers)
    assert response.status_code == 200, response.text
    return {agency["name"]: agency for agency in response.json()["agencies"]}


def test_a_counter_lists_the_agencies_it_may_submit_to_without_their_plumbing(api, add_client) -> None:  # type: ignore
    counter = bearer(add_client("counter", ["application:submit:oss", "application:submit:imigrasi",
                                            "application:read"]))
    agencies = listing(api, counter)
    assert set(agencies) == {"oss", "imigrasi"}
    for agency in agencies.values():
        assert not OPERATOR_ONLY & set(agency), agency
        assert agency["services"] and agency["title"]
    schema = agencies["imigrasi"]["services"]["passport_application"]
    assert "TNG" in schema["properties"]["kodeKanim"]["enum"]
    assert schema["examples"][0]["kodeKanim"] in schema["properties"]["kodeKanim"]["enum"]

    everywhere = bearer(add_client("counter-all", ["application:submit:*"]))
    assert set(listing(api, everywhere)) == SUBMITTING            # Dukcapil takes no submissions


def test_a_key_that_submits_nowhere_may_not_list(api, add_client) -> None:  # type: ignore
    reader = bearer(add_client("reader", ["citizen:read:*", "application:read"]))
    response = api.get("/v1/agencies", headers=reader)
    assert response.status_code == 403 and response.json()["code"] == "scope_missing"
    assert api.get("/v1/agencies").status_code == 401


def test_admin_sees_url_health_and_breaker(api, add_client) -> None:  # type: ignore
    agencies = listing(api, bearer(add_client("operator", ["admin"])))
    assert set(agencies) == SUBMITTING | {"dukcapil"}
    assert all(OPERATOR_ONLY <= set(agency) for agency in agencies.values())
    assert agencies["oss"]["url"].startswith("http://127.0.0.1:") and agencies["oss"]["health"]["up"]
    one = api.get("/v1/agencies/samsat", headers=bearer(add_client("operator-2", ["admin"])))
    assert one.status_code == 200 and one.json()["breaker"]["state"] == "closed"


def test_one_agency_and_one_schema_for_a_counter_that_may_submit_there(api, add_client) -> None:  # type: ignore
    counter = bearer(add_client("counter", ["application:submit:samsat"]))
    agency = api.get("/v1/agencies/samsat", headers=counter)
    assert agency.status_code == 200, agency.text
    assert not OPERATOR_ONLY & set(agency.json()) and "pkb_payment" in agency.json()["services"]
    schema = api.get("/v1/agencies/samsat/services/pkb_payment", headers=counter)
    assert schema.status_code == 200 and schema.json()["properties"]["plate"]["maxLength"] == 16
    assert schema.json()["examples"]

    for path, status, code in [("/v1/agencies/oss", 403, "scope_missing"),
                               ("/v1/agencies/oss/services/license_application", 403, "scope_missing"),
                               ("/v1/agencies/atlantis", 404, "agency_not_found"),
                               ("/v1/agencies/samsat/services/nothing", 404, "service_not_found")]:
        response = api.get(path, headers=counter)
        assert (response.status_code, response.json()["code"]) == (status, code), path


def test_a_counter_finds_a_clinic_code_at_bpjs(api, add_client, set_fault) -> None:  # type: ignore
    """BPJS Kesehatan's clinics are too many for an enum: the counter searches them at the agency (VClaim's
    referensi/faskes) through the bus, and what it finds is a valid new_clinic_code."""
    counter = bearer(add_client("counter", ["application:submit:bpjs_kesehatan"]))
    agency = listing(api, counter)["bpjs_kesehatan"]
    assert "clinics" in agency["code_lists"]
    pattern = agency["services"]["participant_update"]["properties"]["new_clinic_code"]["pattern"]

    response = api.get("/v1/agencies/bpjs_kesehatan/codes/clinics", params={"q": "puskesmas"}, headers=counter)
    assert response.status_code == 200, response.text
    clinics = response.json()["codes"]
    assert clinics and all(c["name"].startswith("PUSKESMAS") and re.fullmatch(pattern.strip("^$"), c["code"])
                           for c in clinics), clinics
    one = api.get("/v1/agencies/bpjs_kesehatan/codes/clinics", params={"q": clinics[0]["code"]}, headers=counter)
    assert one.json()["codes"] == [clinics[0]]
    nothing = api.get("/v1/agencies/bpjs_kesehatan/codes/clinics", params={"q": "ATLANTIS"}, headers=counter)
    assert nothing.status_code == 200 and nothing.json()["codes"] == []

    for params, path, status, code in [
            ({"q": "ab"}, "clinics", 422, "request_invalid"),
            ({"q": "a/b/c"}, "clinics", 422, "request_invalid"),
            ({}, "clinics", 422, "request_invalid"),
            ({"q": "puskesmas"}, "hospitals", 404, "code_list_not_found"),
            ({"q": "puskesmas"}, "../../atlantis/codes/clinics", 404, "agency_not_found")]:
        response = api.get(f"/v1/agencies/bpjs_kesehatan/codes/{path}", params=params, headers=counter)
        assert (response.status_code, response.json()["code"]) == (status, code), params
    oss_only = bearer(add_client("oss-counter", ["application:submit:oss"]))
    refused = api.get("/v1/agencies/bpjs_kesehatan/codes/clinics", params={"q": "puskesmas"}, headers=oss_only)
    assert (refused.status_code, refused.json()["code"]) == (403, "scope_missing")

    set_fault("bpjs_kesehatan", "down")
    down = api.get("/v1/agencies/bpjs_kesehatan/codes/clinics", params={"q": "puskesmas"}, headers=counter)
    assert (down.status_code, down.json()["code"]) == (503, "agency_unavailable")
