"""The real connector against replies in the shapes public sources show (fixtures/, copied from
shared/agency-evidence/fixtures/bpjs_kesehatan; made-up values), served from a loopback server that is not our
simulator: it seals each decrypted fixture with the VClaim recipe under the caller's own X-timestamp.

What INDEX.md asks: active card → active, class 1, coverage end 2024-12-31 (past, and still active), clinic
1103U017; status 9 → not active, no clinic, coverage end 2050-01-01, name upper-cased; metaData 201 → not found;
bad credentials → HTTP 403 with a non-JSON body → access denied.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from connectors.base import AgencyAccessDenied, FacetStatus
from connectors.bpjs_kesehatan import PLUGIN, crypto
from connectors.simkit.serving import RunningServer, serving
from connectors.bpjs_kesehatan.facet import HealthInsurance
from mappings.engine import load_mapping
from tests.connectors.helpers import run

FIXTURES = Path(__file__).parent / "fixtures"
CONS_ID, SECRET, USER_KEY = "21095", "evidence-secret", "evidence-user-key"
ACTIVE_NIK, INACTIVE_NIK, UNKNOWN_NIK = "3374032307780011", "3174015402910023", "3273010101900001"
DECRYPTED = {ACTIVE_NIK: "peserta_active.decrypted.json", INACTIVE_NIK: "peserta_inactive_premi.decrypted.json"}


def evidence_app() -> FastAPI:
    """GET Peserta/nik/{nik}/tglSEP/{date}: the fixture for that NIK sealed, else the 201 fixture as is."""
    app = FastAPI()

    @app.get("/Peserta/nik/{nik}/tglSEP/{service_date}")
    async def peserta(nik: str, service_date: str, request: Request) -> Response:
        dt.date.fromisoformat(service_date)
        timestamp = request.headers.get("x-timestamp", "")
        expected = crypto.signature(CONS_ID, SECRET, timestamp)
        if (request.headers.get("x-cons-id") != CONS_ID or request.headers.get("user_key") != USER_KEY
                or not hmac.compare_digest(request.headers.get("x-signature", ""), expected)):
            return PlainTextResponse("Forbidden", status_code=403)
        name = DECRYPTED.get(nik)
        if name is None:
            return Response((FIXTURES / "not_found_201.json").read_bytes(), media_type="application/json")
        payload = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
        sealed = crypto.seal(payload, CONS_ID, SECRET, timestamp)
        return JSONResponse({"metaData": {"code": "200", "message": "OK"}, "response": sealed})

    return app


@pytest.fixture(scope="module")
def evidence() -> Iterator[RunningServer]:
    with serving(evidence_app()) as server:
        yield server


def lookup(server: RunningServer, nik: str, **overrides: str):  # type: ignore[no-untyped-def]
    config = {"url": server.url, "cons_id": CONS_ID, "secret": SECRET, "user_key": USER_KEY, **overrides}
    return run(PLUGIN, config, lambda client: client.lookup(nik))


def facet(result) -> HealthInsurance:  # type: ignore[no-untyped-def]
    model = load_mapping("bpjs_kesehatan").apply(dict(result.fields))
    assert isinstance(model, HealthInsurance)
    return model


def test_active_card_with_a_past_coverage_end_is_active(evidence: RunningServer) -> None:
    result = lookup(evidence, ACTIVE_NIK)
    assert result.status is FacetStatus.ok and result.agency_code == "200"
    model = facet(result)
    assert model.active is True and model.status_code == "0"
    assert model.care_class == 1 and model.participant_type == "PEGAWAI SWASTA"
    assert model.coverage_end == dt.date(2024, 12, 31) and model.coverage_start == dt.date(2016, 1, 1)
    assert model.clinic is not None and model.clinic.code == "1103U017"
    assert model.card_number == "0001526384917" and model.full_name == "DWI HARYANTO"


def test_status_9_is_unpaid_premium_not_active_without_clinic(evidence: RunningServer) -> None:
    model = facet(lookup(evidence, INACTIVE_NIK))
    assert model.active is False
    assert (model.status_code, model.status) == ("9", "NON AKTIF KARNA PREMI")
    assert model.clinic is None
    assert model.coverage_end == dt.date(2050, 1, 1)
    assert model.full_name == "AYU LESTARI PRAMESWARI"  # sent as "ayu lestari prameswari"
    assert model.care_class == 2 and model.participant_type_code == "14"


def test_metadata_201_is_not_found(evidence: RunningServer) -> None:
    result = lookup(evidence, UNKNOWN_NIK)
    assert result.status is FacetStatus.not_found and result.agency_code == "201"
    assert result.message == "No.Kartu Tidak Sesuai" and not result.fields


def test_bad_credentials_http_403_without_json_is_access_denied(evidence: RunningServer) -> None:
    with pytest.raises(AgencyAccessDenied) as caught:
        lookup(evidence, ACTIVE_NIK, secret="not-the-secret")
    assert caught.value.code == "403" and not caught.value.transient


@pytest.mark.parametrize("mode", ["forbidden", "not_found"])
def test_simulator_fault_switch_for_each_real_reply(bpjs, mode: str) -> None:  # type: ignore[no-untyped-def]
    """The simulator can be switched to each real reply shown above, for tests and the demo."""
    person, _ = bpjs.pick(card=True, active=True)
    bpjs.faults(mode)
    if mode == "forbidden":
        with pytest.raises(AgencyAccessDenied) as caught:
            bpjs.call("lookup", person.nik)
        assert caught.value.code == "403"
    else:
        result = bpjs.call("lookup", person.nik)
        assert result.status is FacetStatus.not_found and result.message == "No.Kartu Tidak Sesuai"
