"""The real Dukcapil connector against replies in the shapes public sources show (fixtures/, copied from
shared/agency-evidence/fixtures/dukcapil; made-up values), served byte for byte from a loopback server that is not
our simulator. What each must become is INDEX.md's list; the mapping is applied where it names canonical values.

Also: what differs between deployments is configuration — a regional gateway's path (`32-76/USER01/BYNIK`) and
body keys (`nik`, `ip_address`) are settings the client follows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response

from connectors.base import AgencyAccessDenied, AgencyUnavailable, FacetStatus, LifeStatus
from connectors.dukcapil import PLUGIN
from connectors.dukcapil.replies import seconds_to_midnight_wib
from connectors.simkit.serving import RunningServer, serving
from identity.model import Citizen
from mappings.engine import load_mapping
from tests.connectors.helpers import run

FIXTURES = Path(__file__).parent / "fixtures"
INSTITUTION = "GERBANG"
REGIONAL = "32-76/USER01"
#: (call, NIK) → fixture; a NIK not listed gets the call's "not found" fixture
CALL_NIK_REPLIES = {
    "3374032307780011": "call_nik_found_iso_numeric_rt.json",
    "3174015402910023": "call_nik_found_full_dotted.json",
    "6474020509880042": "call_nik_found_lakilaki_foto.json",
    "3273010101900001": "call_nik_quota.json",
    "3273010101900002": "call_nik_login_failed.json",
    "3273010101900003": "call_nik_ip_mismatch.json",
}
VERIFY_REPLIES = {
    "3374032307780011": "verify_match.json",
    "3578014107650001": "verify_11_deceased.json",
    "3578014107650002": "verify_12_duplicate.json",
    "3578014107650004": "verify_04_ip.json",
}


def evidence_app(seen: list[dict[str, Any]]) -> FastAPI:
    """Serves each fixture as the HTTP 200 body of the call and NIK it belongs to; records the bodies it got."""
    app = FastAPI()

    def reply(name: str) -> Response:
        return Response((FIXTURES / name).read_bytes(), media_type="application/json;charset=UTF-8")

    @app.post("/dukcapil/get_json/{path:path}")
    async def call(path: str, request: Request) -> Response:
        body = json.loads(await request.body())
        seen.append({"path": path, "body": body})
        if path == f"{INSTITUTION}/CALL_NIK":
            return reply(CALL_NIK_REPLIES.get(str(body.get("NIK")), "call_nik_not_found.json"))
        if path == f"{REGIONAL}/BYNIK":
            return reply(CALL_NIK_REPLIES.get(str(body.get("nik")), "call_nik_not_found.json"))
        if path == f"{INSTITUTION}/CALL_VERIFY_BY_ELEMEN":
            return reply(VERIFY_REPLIES.get(str(body.get("NIK")), "verify_13_not_found.json"))
        return Response(status_code=404)

    return app


@pytest.fixture(scope="module")
def evidence() -> Iterator[tuple[RunningServer, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    with serving(evidence_app(seen)) as server:
        yield server, seen


def config(server: RunningServer, **overrides: str) -> dict[str, str]:
    return {"url": server.url, "institution": INSTITUTION, "user": "USER01", "password": "secret",
            "ip": "10.1.2.3", **overrides}


def lookup(evidence: Any, nik: str, **overrides: str) -> Any:
    return run(PLUGIN, config(evidence[0], **overrides), lambda client: client.lookup(nik))


def verify(evidence: Any, nik: str, claims: dict[str, Any]) -> Any:
    return run(PLUGIN, config(evidence[0]), lambda client: client.verify(nik, claims))


def citizen(result: Any) -> Citizen:
    model = load_mapping("dukcapil").apply(dict(result.fields))
    assert isinstance(model, Citizen)
    return model


# --- CALL_NIK --------------------------------------------------------------------------------------------------------
def test_found_short_set_iso_date_numeric_rt(evidence: Any) -> None:
    result = lookup(evidence, "3374032307780011")
    assert result.status is FacetStatus.ok and result.agency_code is None
    assert result.life_status is LifeStatus.alive
    model = citizen(result)
    assert model.nik == "3374032307780011" and model.kk_number == "3374031504090006"
    assert (model.address.rt, model.address.rw) == ("007", "003")
    assert model.birth_date == dt.date(1978, 7, 23) and model.sex == "L"
    assert model.address.village_code is None and model.address.district_code is None
    assert model.address.province_code is None and model.ektp_status is None


def test_found_full_set_dotted_date_and_nulls(evidence: Any) -> None:
    result = lookup(evidence, "3174015402910023")
    assert result.status is FacetStatus.ok and result.agency_code is None
    model = citizen(result)
    assert model.birth_date == dt.date(1991, 2, 14) and model.sex == "P"
    assert model.address.village_code == "31.74.01.1004" and (model.address.rt, model.address.rw) == ("009", "004")
    assert (model.father_name, model.mother_name) == ("HENDRA PRAMESWARA", "MARIA KRISTIANTI")
    assert model.marital_status == "single" and model.family_role == "ANAK"
    assert model.address.postal_code is None and model.birth_certificate_no is None


def test_found_mixed_case_laki_laki_with_foto(evidence: Any) -> None:
    result = lookup(evidence, "6474020509880042")
    assert "FOTO" not in result.fields  # the KTP photo never leaves the connector
    model = citizen(result)
    assert model.full_name == "FAJAR NUGROHO" and model.sex == "L"
    assert model.address.village_code == "64.74.02.1001" and model.address.rt == "023"
    assert "FOTO" not in json.dumps(model.model_dump(mode="json"))


def test_bare_not_found(evidence: Any) -> None:
    result = lookup(evidence, "3273019999990001")
    assert result.status is FacetStatus.not_found and result.agency_code is None and not result.fields


def test_bare_quota_is_unavailable_until_midnight_wib(evidence: Any) -> None:
    with pytest.raises(AgencyUnavailable) as caught:
        lookup(evidence, "3273010101900001")
    assert caught.value.message == "Kuota Akses Hari ini telah Habis"
    assert caught.value.retry_after_s is not None
    assert abs(caught.value.retry_after_s - seconds_to_midnight_wib()) < 5


@pytest.mark.parametrize("nik, text", [("3273010101900002", "Login Gagal"),
                                       ("3273010101900003", "IP Address Tidak Sesuai")])
def test_bare_login_and_ip_are_access_denied(evidence: Any, nik: str, text: str) -> None:
    with pytest.raises(AgencyAccessDenied) as caught:
        lookup(evidence, nik)
    assert caught.value.message == text and not caught.value.transient


def test_regional_gateway_path_and_key_names_are_settings(evidence: Any) -> None:
    server, seen = evidence
    result = lookup(evidence, "3374032307780011", institution=REGIONAL, call_nik="BYNIK", key_nik="nik",
                    key_ip_user="ip_address")
    assert result.status is FacetStatus.ok and result.fields["NIK"] == "3374032307780011"
    assert seen[-1] == {"path": f"{REGIONAL}/BYNIK", "body": {"nik": "3374032307780011", "user_id": "USER01",
                                                              "password": "secret", "ip_address": "10.1.2.3"}}


@pytest.mark.parametrize("overrides, complaint", [
    ({"institution": "../admin"}, "institution"), ({"call_nik": "CALL NIK"}, "call_nik"),
    ({"key_nik": "NIK", "key_user_id": "NIK"}, "must differ"), ({"key_ip_user": "ip-address"}, "key_ip_user"),
])
def test_bad_gateway_settings_are_refused_at_start(overrides: dict[str, str], complaint: str) -> None:
    base = {"url": "http://127.0.0.1:9", "institution": "X", "user": "u", "password": "p", "ip": "10.0.0.1"}
    with pytest.raises(ValueError, match=complaint):
        PLUGIN.create({**base, **overrides})


# --- CALL_VERIFY_BY_ELEMEN -------------------------------------------------------------------------------------------
CLAIMS = {"full_name": "DWI HARYANTO", "birth_date": "1978-07-23", "birth_place": "SEMARANG",
          "address": "JL. MAWAR ASRI III NO. 21", "sex": "L", "kk_number": "3374031504090006"}


def test_verify_match(evidence: Any) -> None:
    result = verify(evidence, "3374032307780011", CLAIMS)
    assert result.found and result.agency_code is None
    assert result.fields == {"full_name": (True, 100), "birth_place": (True, 100), "address": (True, 91),
                             "birth_date": (True, None), "sex": (True, None), "kk_number": (True, None)}
    sent = evidence[1][-1]["body"]
    assert sent["TGL_LHR"] == "23-07-1978" and sent["TRESHOLD"] == "80"


def test_verify_11_is_known_and_deceased_without_verdicts(evidence: Any) -> None:
    result = verify(evidence, "3578014107650001", {"full_name": "X"})
    assert result.found and result.fields == {} and result.agency_code == "11"
    assert result.life_status is LifeStatus.deceased and result.message == "meninggal dunia"


def test_verify_12_is_known_duplicate_without_verdicts(evidence: Any) -> None:
    result = verify(evidence, "3578014107650002", {"full_name": "X"})
    assert result.found and result.fields == {} and result.agency_code == "12"
    assert result.message == "Data Ditemukan, Data Ganda"


def test_verify_13_is_not_found(evidence: Any) -> None:
    result = verify(evidence, "3578014107650003", {"full_name": "X"})
    assert result.found is False and result.agency_code == "13"
    assert result.message == "Data Tidak Ditemukan, NIK tidak terdapat di database Kependudukan"


def test_verify_04_is_access_denied_with_the_agency_text(evidence: Any) -> None:
    with pytest.raises(AgencyAccessDenied) as caught:
        verify(evidence, "3578014107650004", {"full_name": "X"})
    assert caught.value.code == "04" and "IP Tidak Sesuai" in caught.value.message
