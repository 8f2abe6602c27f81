"""HTTP edge cases the simulator cannot easily produce, with respx: the client accepts only a valid envelope."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from connectors.base import (
    AgencyAccessDenied, AgencyProtocolError, AgencyRejected, AgencyUnavailable, FacetStatus,
)
from connectors.bpjs_kesehatan import crypto
from connectors.bpjs_kesehatan.client import BpjsKesehatanClient
from tests.connectors.helpers import run_with

URL = "http://bpjs.test/vclaim-rest"
CONS_ID, SECRET, USER_KEY = "1000", "unit-secret", "unit-key"
NOW = 1_717_000_000  # the client's fixed clock: its X-timestamp is "1717000000"
NIK = "3273014512900003"
PESERTA = {"noKartu": "0001234567890", "nik": NIK, "nama": "SITI AMINAH", "sex": "P", "tglLahir": "1990-12-05"}


def unit_client() -> BpjsKesehatanClient:
    """A client with the unit tests' credentials and a fixed clock, so signatures are known in advance."""
    return BpjsKesehatanClient(url=URL, cons_id=CONS_ID, secret=SECRET, user_key=USER_KEY, clock=lambda: NOW)


def lookup(reply: Any) -> Any:
    """Run a lookup against a mocked route answering `reply` (a Response or an exception)."""

    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(url__regex=rf"^{URL}/Peserta/nik/{NIK}/tglSEP/\d{{4}}-\d{{2}}-\d{{2}}$")
        route.mock(side_effect=reply) if isinstance(reply, Exception) else route.mock(return_value=reply)
        result = run_with(unit_client(), lambda client: client.lookup(NIK))
        request = route.calls.last.request
    assert request.headers["X-timestamp"] == str(NOW)
    assert request.headers["X-signature"] == crypto.signature(CONS_ID, SECRET, str(NOW))
    assert request.headers["X-cons-id"] == CONS_ID and request.headers["user_key"] == USER_KEY
    return result


def envelope(code: Any = "200", response: Any = None, message: Any = "OK") -> httpx.Response:
    return httpx.Response(200, json={"metaData": {"code": code, "message": message}, "response": response})


def sealed(payload: Any, timestamp: int = NOW) -> str:
    return crypto.seal(payload, CONS_ID, SECRET, str(timestamp))


def test_valid_envelope_for_our_timestamp_is_accepted() -> None:
    result = lookup(envelope(response=sealed({"peserta": PESERTA})))
    assert result.status is FacetStatus.ok and result.fields == PESERTA


def test_envelope_encrypted_with_another_timestamp_is_a_protocol_error() -> None:
    with pytest.raises(AgencyProtocolError, match="wrong key|not UTF-8|LZ-string|not JSON"):
        lookup(envelope(response=sealed({"peserta": PESERTA}, timestamp=NOW - 1)))


def test_missing_metadata_is_a_protocol_error() -> None:
    with pytest.raises(AgencyProtocolError, match="metaData"):
        lookup(httpx.Response(200, json={"response": sealed({"peserta": PESERTA})}))


@pytest.mark.parametrize("code", [200, None, "", ["200"]])
def test_metadata_code_must_be_a_string(code: Any) -> None:
    with pytest.raises(AgencyProtocolError, match="metaData.code"):
        lookup(envelope(code=code, response=sealed({"peserta": PESERTA})))


@pytest.mark.parametrize("body", [[], "text", {"metaData": "200"}, {"metaData": None}])
def test_envelope_of_the_wrong_shape_is_a_protocol_error(body: Any) -> None:
    with pytest.raises(AgencyProtocolError):
        lookup(httpx.Response(200, json=body))


@pytest.mark.parametrize("response", [None, 42, {"peserta": PESERTA}, ""])
def test_ok_without_an_encrypted_string_is_a_protocol_error(response: Any) -> None:
    with pytest.raises(AgencyProtocolError):
        lookup(envelope(response=response))


def test_decrypted_response_without_peserta_is_a_protocol_error() -> None:
    with pytest.raises(AgencyProtocolError, match="peserta"):
        lookup(envelope(response=sealed({"list": []})))


def test_reply_about_another_nik_is_a_protocol_error() -> None:
    with pytest.raises(AgencyProtocolError, match="another participant"):
        lookup(envelope(response=sealed({"peserta": {**PESERTA, "nik": "3273014512900004"}})))


def test_wrong_content_type_is_a_protocol_error() -> None:
    page = httpx.Response(200, content=b"<html>Maintenance</html>", headers={"content-type": "text/html"})
    with pytest.raises(AgencyProtocolError, match="content type"):
        lookup(page)


def test_malformed_json_is_a_protocol_error() -> None:
    with pytest.raises(AgencyProtocolError, match="malformed"):
        lookup(httpx.Response(200, content=b'{"metaData": {', headers={"content-type": "application/json"}))


@pytest.mark.parametrize("error", [httpx.ReadError("Connection reset by peer"), httpx.ConnectError("refused"),
                                   httpx.RemoteProtocolError("peer closed connection")])
def test_connection_reset_is_unavailable(error: Exception) -> None:
    with pytest.raises(AgencyUnavailable) as caught:
        lookup(error)
    assert caught.value.transient


def test_gateway_401_without_an_envelope_is_access_denied() -> None:
    with pytest.raises(AgencyAccessDenied):
        lookup(httpx.Response(401, content=b"Unauthorized", headers={"content-type": "text/plain"}))


def test_gateway_5xx_is_unavailable() -> None:
    with pytest.raises(AgencyUnavailable):
        lookup(httpx.Response(502, content=b"Bad gateway"))


def test_ok_code_on_an_http_error_status_is_a_protocol_error() -> None:
    reply = httpx.Response(404, json={"metaData": {"code": "200", "message": "OK"},
                                      "response": sealed({"peserta": PESERTA})})
    with pytest.raises(AgencyProtocolError):
        lookup(reply)


@pytest.mark.parametrize("code,error", [("401", AgencyAccessDenied), ("403", AgencyAccessDenied),
                                        ("400", AgencyRejected), ("503", AgencyUnavailable),
                                        ("999", AgencyProtocolError), ("-1", AgencyProtocolError)])
def test_metadata_codes_map_to_errors(code: str, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        lookup(envelope(code=code, message="Gagal"))
    assert type(caught.value) is error


def test_not_found_carries_the_agencys_message_with_long_numbers_masked() -> None:
    result = lookup(envelope(code="201", message=f"Peserta dengan NIK {NIK} tidak ditemukan"))
    assert result.status is FacetStatus.not_found and result.agency_code == "201"
    assert NIK not in (result.message or "") and "tidak ditemukan" in (result.message or "")


def test_non_string_message_is_a_protocol_error() -> None:
    with pytest.raises(AgencyProtocolError, match="message"):
        lookup(envelope(code="201", message={"text": "x"}))


def test_submit_sends_the_idempotency_key_and_a_wrapped_body() -> None:
    payload = {"nik": NIK, "new_clinic_code": "3273P001", "reason": "Pindah domisili"}
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{URL}/Peserta/updateFaskes").mock(
            return_value=envelope(response=sealed({"noPengajuan": "FKTP240101000001"})))
        result = run_with(unit_client(), lambda client: client.submit("participant_update", payload, "key-123"))
        request = route.calls.last.request
    assert result.reference == "FKTP240101000001"
    assert request.headers["X-Idempotency-Key"] == "key-123"
    assert request.headers["X-signature"] == crypto.signature(CONS_ID, SECRET, str(NOW))
    sent = json.loads(request.content)["request"]["t_peserta"]
    assert sent["nik"] == NIK and sent["kdProviderBaru"] == "3273P001" and sent["noKartu"] is None
