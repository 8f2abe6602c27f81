"""HTTP edge cases of the Dukcapil client that a well-behaved simulator does not produce (respx-mocked)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
import respx

from connectors.base import (
    AgencyAccessDenied,
    AgencyProtocolError,
    AgencyTimeout,
    AgencyUnavailable,
    FacetStatus,
    LifeStatus,
)
from connectors.dukcapil.client import DukcapilClient, parse_verdict
from connectors.dukcapil.replies import seconds_to_midnight_wib
from tests.connectors.helpers import run_with

BASE = "http://dukcapil.test"
NIK = "3276015505850003"
KK = "3276010101100002"
CONFIG = {"url": BASE, "institution": "GERBANG", "user": "u", "password": "p", "ip": "127.0.0.1", "timeout_s": "2"}
URL = f"{BASE}/dukcapil/get_json/GERBANG/CALL_NIK"


def lookup(nik: str = NIK) -> Any:
    return run_with(DukcapilClient(CONFIG), lambda client: client.lookup(nik))


def json_text(text: str, status: int = 200, content_type: str = "application/json") -> httpx.Response:
    return httpx.Response(status, content=text.encode(), headers={"content-type": content_type})


@respx.mock
def test_connection_reset_is_unavailable() -> None:
    respx.post(URL).mock(side_effect=httpx.ReadError("connection reset by peer"))
    with pytest.raises(AgencyUnavailable):
        lookup()


@respx.mock
def test_connect_refused_is_unavailable() -> None:
    respx.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(AgencyUnavailable):
        lookup()


@respx.mock
def test_timeout_is_timeout() -> None:
    respx.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(AgencyTimeout):
        lookup()


@respx.mock
def test_wrong_content_type_is_protocol_error() -> None:
    respx.post(URL).mock(return_value=json_text("<html>Gateway</html>", content_type="text/html"))
    with pytest.raises(AgencyProtocolError, match="content type"):
        lookup()


@respx.mock
@pytest.mark.parametrize("status, error", [(403, AgencyAccessDenied), (502, AgencyUnavailable),
                                           (404, AgencyProtocolError), (429, AgencyUnavailable)])
def test_http_status(status: int, error: type) -> None:
    respx.post(URL).mock(return_value=json_text("{}", status=status))
    with pytest.raises(error):
        lookup()


@respx.mock
@pytest.mark.parametrize("body", ['{"content": []}', '{"items": 1}', '[1, 2]', '{"content": ["x"]}'])
def test_envelope_without_items_is_protocol_error(body: str) -> None:
    respx.post(URL).mock(return_value=json_text(body))
    with pytest.raises(AgencyProtocolError):
        lookup()


@respx.mock
def test_bare_not_found_without_code() -> None:
    respx.post(URL).mock(return_value=json_text('{"content":[{"RESPON":"Data Tidak Ditemukan"}]}'))
    result = lookup()
    assert result.status is FacetStatus.not_found and result.agency_code is None


@respx.mock
def test_data_without_code_is_found_and_numbers_stay_exact() -> None:
    respx.post(URL).mock(return_value=json_text(
        f'{{"content":[{{"NIK":{NIK},"NO_KK":{KK},"NAMA_LGKP":"SITI AMINAH  ","NO_KEC":1}}]}}'))
    result = lookup()
    assert result.status is FacetStatus.ok and result.life_status is LifeStatus.alive
    assert result.fields == {"NIK": NIK, "NO_KK": KK, "NAMA_LGKP": "SITI AMINAH  ", "NO_KEC": "1"}


@respx.mock
def test_numbers_as_strings_are_accepted() -> None:
    respx.post(URL).mock(return_value=json_text(
        f'{{"content":[{{"NIK":"{NIK}","NO_KK":"{KK}","NAMA_LGKP":"X","RESPONSE_CODE":"12"}}]}}'))
    result = lookup()
    assert result.status is FacetStatus.ok and result.fields["NIK"] == NIK and result.agency_code == "12"


@respx.mock
def test_nik_as_float_is_refused() -> None:
    respx.post(URL).mock(return_value=json_text('{"content":[{"NIK":3.276015505850003E15,"NAMA_LGKP":"X"}]}'))
    with pytest.raises(AgencyProtocolError, match="exact"):
        lookup()


@respx.mock
def test_reply_about_another_nik_is_refused() -> None:
    respx.post(URL).mock(return_value=json_text('{"content":[{"NIK":3276015505850004,"NAMA_LGKP":"X"}]}'))
    with pytest.raises(AgencyProtocolError, match="another NIK"):
        lookup()


@respx.mock
def test_unknown_response_code_is_protocol_error() -> None:
    respx.post(URL).mock(return_value=json_text('{"content":[{"RESPON":"?","RESPONSE_CODE":"99"}]}'))
    with pytest.raises(AgencyProtocolError):
        lookup()


@respx.mock
def test_outside_hours_retry_after_from_message() -> None:
    respx.post(URL).mock(return_value=json_text(
        '{"content":[{"RESPON":"Di luar jam akses layanan (07:00-19:00 WIB)","RESPONSE_CODE":"06"}]}'))
    with pytest.raises(AgencyUnavailable) as caught:
        lookup()
    assert caught.value.code == "06" and caught.value.retry_after_s is not None
    assert 0 < caught.value.retry_after_s <= 86_400


@respx.mock
def test_request_body_uses_lower_case_credentials() -> None:
    route = respx.post(URL).mock(return_value=json_text('{"content":[{"RESPON":"Data Tidak Ditemukan"}]}'))
    lookup()
    import json

    sent = json.loads(route.calls.last.request.content)
    assert sent == {"NIK": NIK, "user_id": "u", "password": "p", "ip_user": "127.0.0.1"}


def test_verdicts() -> None:
    assert parse_verdict("Sesuai") == (True, None)
    assert parse_verdict("Sesuai (92)") == (True, 92)
    assert parse_verdict("Tidak Sesuai (41)") == (False, 41)
    assert parse_verdict(" tidak sesuai ") == (False, None)
    for bad in ("Ya", None, 1, "Sesuai (999)"):
        with pytest.raises(AgencyProtocolError):
            parse_verdict(bad)


def test_seconds_to_midnight_wib() -> None:
    wib = dt.timezone(dt.timedelta(hours=7))
    assert seconds_to_midnight_wib(dt.datetime(2024, 8, 14, 23, 0, tzinfo=wib)) == 3600
    # 17:00 UTC is midnight in Jakarta: the next reset is a full day away
    assert seconds_to_midnight_wib(dt.datetime(2024, 8, 14, 17, 0, tzinfo=dt.UTC)) == 86_400
