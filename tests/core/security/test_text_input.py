"""Input that is not text, or not what a field can be, is refused at the door with a 4xx and a code — never a 500,
never a record written. Each case here answered 500 (or was let through to fail later) before: an unpaired
surrogate in a payload (UTF-8 encoding of the request hash), NUL in a path or query (PostgreSQL's text columns),
a control character for a SOAP agency (zeep could not build the XML, which opened the agency's breaker), a deep
body posted as text/plain to the OSS push, 20-digit or non-ASCII-digit audit cursors, a time past year 9999 in
UTC, an application cursor or id with trailing characters, a schema `$` matching before a final newline, 2024.0
passing as an integer, subscriptions to agencies that do not exist, client names the admin API cannot address.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from connectors.base import AgencyRejected
from connectors.base import check_payload
from core.api.text_checks import json_text_problem
from tests.core.conftest import POPULATION

ALIVE = [p for p in POPULATION.people if p.life_status == "alive" and p.in_dukcapil]
PERSON = ALIVE[0]


@pytest.fixture
def keys(add_client) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """Headers of a counter (submit and read) and of an operator (admin, audit)."""
    counter = add_client("counter", ["application:submit:*", "application:read", "subjects:history"],
                         ["identity_check"])
    operator = add_client("operator", ["admin", "audit:read", "subjects:history"], ["*"])
    return {"counter": {"Authorization": f"Bearer {counter}"}, "operator": {"Authorization": f"Bearer {operator}"}}


def oss(**payload: Any) -> dict[str, Any]:
    return {"nik": PERSON.nik, "agency": "oss", "service": "license_status",
            "payload": {"nib": "1234567890123", "id_izin": "I-202502200921407719340", "kd_izin": "059000000214",
                        "kd_status": "50", "tgl_status": "2025-03-04 14:20:05", **payload}}


def post_raw(api: Any, headers: dict[str, str], key: str, body: str, content_type: str = "application/json") -> Any:
    return api.post("/v1/applications", content=body.encode(), headers={**headers, "Idempotency-Key": key,
                                                                        "Content-Type": content_type})


def assert_text_invalid(reply: Any, pointer: str | None = None) -> None:
    assert reply.status_code == 400, reply.text
    assert reply.json()["code"] == "text_invalid", reply.text
    if pointer is not None:
        assert [e["pointer"] for e in reply.json()["errors"]] == ["#" + pointer]


@pytest.mark.parametrize("escaped", ["\\ud800", "\\udfff", "\\u0000", "\\u001b", "\\uffff", "x\\u0008y"])
def test_characters_that_are_not_text_are_refused_and_nothing_is_written(make_api, keys, escaped: str) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    body = json.dumps(oss(keterangan="PLACEHOLDER")).replace("PLACEHOLDER", escaped)
    assert_text_invalid(post_raw(api, keys["counter"], "t-1", body), "/payload/keterangan")
    # nothing was kept under that key: the same key with a clean body is a new application, not a conflict
    clean = api.post("/v1/applications", json=oss(keterangan="ok"), headers={**keys["counter"], "Idempotency-Key": "t-1"})
    assert clean.status_code == 202 and clean.headers.get("Idempotent-Replayed") != "true", clean.text


def test_text_checks_leave_real_text_alone(make_api, keys) -> None:  # type: ignore[no-untyped-def]
    """A surrogate *pair* (an emoji), tab / line feed / carriage return, and a literal backslash-u0000 pass."""
    api = make_api()
    body = json.dumps(oss(keterangan="PLACEHOLDER")).replace("PLACEHOLDER", "Toko \\ud83d\\ude00\\tbaris\\r\\n\\\\u0000")
    reply = post_raw(api, keys["counter"], "t-2", body)
    assert reply.status_code == 202, reply.text
    assert json_text_problem(body.encode()) is None
    assert json_text_problem(b'{"a\\u0001": 1}') == "/a\x01"


def test_keys_are_checked_too_and_pointers_escape_slashes() -> None:
    assert json_text_problem(b'{"a/b": ["x", "\\u0000"]}') == "/a~1b/1"
    assert json_text_problem(b'["\\ud800"]') == "/0"
    assert json_text_problem(b'"\\ud800"') == "/"
    assert json_text_problem(b'{"not json": \\u0000}') is None  # left to the parser, which refuses it


@pytest.mark.parametrize("path", ["/v1/applications/%00", "/v1/subscriptions/a%00b",
                                  "/v1/audit/entries?client=%00", "/v1/audit/entries?agency=x%1fy",
                                  "/v1/applications?status=%0B"])
def test_nul_and_control_characters_in_the_url(make_api, keys, path: str) -> None:  # type: ignore[no-untyped-def]
    assert_text_invalid(make_api().get(path, headers=keys["operator"]))


def test_a_form_with_nul_is_refused(make_api) -> None:  # type: ignore[no-untyped-def]
    reply = make_api().post("/console/login", content=b"key=gbk_%00abc",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_text_invalid(reply)


@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_a_deep_push_without_a_json_content_type(make_api, content_type: str | None) -> None:  # type: ignore[no-untyped-def]
    headers = {"Token": "x"} | ({"Content-Type": content_type} if content_type else {})
    reply = make_api().post("/v1/inbound/oss/receiveLicenseStatus", content=b"[" * 5000, headers=headers)
    assert reply.status_code == 400 and reply.json()["code"] == "json_too_deep", reply.text


def test_a_push_with_a_surrogate(make_api) -> None:  # type: ignore[no-untyped-def]
    body = b'{"RECEIVELICENSESTATUS":{"nib":"\\ud800","id_izin":"a","kd_status":"50"}}'
    reply = make_api().post("/v1/inbound/oss/receiveLicenseStatus", content=body,
                            headers={"Token": "x", "Content-Type": "application/json"})
    assert_text_invalid(reply, "/RECEIVELICENSESTATUS/nib")


@pytest.mark.parametrize("cursor", ["99999999999999999999", "9223372036854775808", "%C2%B2", "%E2%91%A0",
                                    "%D9%A3", "-1", "1e3"])
@pytest.mark.parametrize("route", ["/v1/audit/entries", f"/v1/citizens/{PERSON.nik}/access-history"])
def test_audit_cursors_are_ascii_digits_of_a_64_bit_id(make_api, keys, route: str, cursor: str) -> None:  # type: ignore[no-untyped-def]
    reply = make_api().get(f"{route}?cursor={cursor}", headers=keys["operator"])
    assert reply.status_code == 400 and reply.json()["code"] == "cursor_invalid", reply.text


def test_the_largest_audit_cursor_is_fine(make_api, keys) -> None:  # type: ignore[no-untyped-def]
    reply = make_api().get("/v1/audit/entries?cursor=9223372036854775807", headers=keys["operator"])
    assert reply.status_code == 200 and reply.json()["entries"] == [], reply.text


@pytest.mark.parametrize("field", ["since", "until"])
def test_times_past_year_9999_in_utc(make_api, keys, field: str) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    reply = api.get("/v1/audit/entries", params={field: "9999-12-31T23:59:59-01:00"}, headers=keys["operator"])
    assert reply.status_code == 400 and reply.json()["code"] == "time_invalid", reply.text
    fine = api.get("/v1/audit/entries", params={field: "9999-12-31T23:59:59+00:00"}, headers=keys["operator"])
    assert fine.status_code == 200, fine.text


def test_application_ids_are_exact(make_api, keys) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    made = api.post("/v1/applications", json=oss(), headers={**keys["counter"], "Idempotency-Key": "t-3"}).json()
    assert api.get(f"/v1/applications/{made['id']}", headers=keys["counter"]).status_code == 200
    for suffix in ("x", "%20", "0"):
        reply = api.get(f"/v1/applications/{made['id']}{suffix}", headers=keys["counter"])
        assert reply.status_code == 404, (suffix, reply.text)
    upper = api.get(f"/v1/applications/{made['id'].upper()}", headers=keys["counter"])
    assert upper.status_code == 404


@pytest.mark.parametrize("cursor_doc", [["2024-01-01", "\ud800"], ["2024-01-01", "x" * 40], ["2024-01-01", 5],
                                        ["not a time", "00000000-0000-0000-0000-000000000000"]])
def test_application_cursors_must_name_an_application(make_api, keys, cursor_doc: list[Any]) -> None:  # type: ignore[no-untyped-def]
    raw = json.dumps(cursor_doc).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    reply = make_api().get("/v1/applications", params={"cursor": cursor}, headers=keys["counter"])
    assert reply.status_code == 400 and reply.json()["code"] == "cursor_invalid", reply.text


@pytest.mark.parametrize("payload", [{"id_izin": "I-202502200921407719340\n"}, {"kd_izin": "05900000021\n"}])
def test_a_schema_pattern_does_not_match_before_a_final_newline(make_api, keys, payload: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    reply = make_api().post("/v1/applications", json=oss(**payload),
                            headers={**keys["counter"], "Idempotency-Key": "t-4"})
    assert reply.status_code == 422 and reply.json()["code"] == "payload_invalid", reply.text
    # the pattern refuses it, or the maxLength the schema now also has (it is checked first)
    assert {e["code"] for e in reply.json()["errors"]} & {"pattern", "maxLength"}, reply.text


def test_an_integer_is_written_as_one(make_api, keys) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    body = {"nik": PERSON.nik, "agency": "samsat", "service": "pkb_payment",
            "payload": {"nik": PERSON.nik, "plate": "B 1234 XYZ", "year": 2024.0}}
    reply = api.post("/v1/applications", json=body, headers={**keys["counter"], "Idempotency-Key": "t-5"})
    assert reply.status_code == 422, reply.text
    assert reply.json()["errors"] == [{"detail": "2024.0 is not of type 'integer'", "pointer": "#/payload/year",
                                       "code": "type"}]


def test_subscriptions_name_an_installed_agency(make_api, keys) -> None:  # type: ignore[no-untyped-def]
    api = make_api(callback_allowed_hosts=["receiver.example"])
    reply = api.post("/v1/subscriptions", headers=keys["operator"],
                     json={"agency": "atlantis", "url": "https://receiver.example/hook",
                           "events": ["application.submitted"]})
    assert reply.status_code == 422 and reply.json()["code"] == "agency_unknown", reply.text
    assert "oss" in reply.json()["agencies"]


def test_client_names_the_admin_api_can_address(make_api, keys) -> None:  # type: ignore[no-untyped-def]
    reply = make_api().post("/v1/admin/clients", headers=keys["operator"],
                            json={"name": "loket/1", "scopes": ["application:read"], "purposes": []})
    assert 400 <= reply.status_code < 500, reply.text
    assert "/" in reply.json()["detail"]


@pytest.mark.parametrize("value", ["\x00", "x\x0by", "\x01\x02", "\ufffe"])
def test_a_soap_payload_xml_cannot_carry_is_a_rejection_not_an_agency_failure(value: str) -> None:
    services = {"renew": {"type": "object"}}
    with pytest.raises(AgencyRejected) as caught:
        check_payload("korlantas", services, "renew", {"satpas": {"nama": ["ok", value]}})
    assert caught.value.code == "payload_not_xml" and not caught.value.transient
    assert "satpas/nama/1" in str(caught.value)
    check_payload("korlantas", services, "renew", {"satpas": "baris\tdua\r\n"})  # tab, CR, LF are fine


# --- ways around the text check, found on PostgreSQL (NUL reached its text columns: 500) ---------------------

def test_json_that_is_not_utf8_is_refused(make_api, keys) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    for encoding in ("utf-16", "utf-32", "utf-16-le"):
        body = json.dumps(oss(keterangan="a\u0000b")).encode(encoding)
        reply = api.post("/v1/applications", content=body,
                         headers={**keys["counter"], "Idempotency-Key": f"e-{encoding}",
                                  "Content-Type": "application/json"})
        assert_text_invalid(reply)
    bom = b"\xef\xbb\xbf" + json.dumps(oss(keterangan="ok")).encode()  # UTF-8 with a BOM is UTF-8
    reply = api.post("/v1/applications", content=bom,
                     headers={**keys["counter"], "Idempotency-Key": "e-bom", "Content-Type": "application/json"})
    assert reply.status_code != 400 or reply.json()["code"] != "text_invalid", reply.text


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded+json", "application/json; charset=utf-8",
                                          "APPLICATION/JSON", "text/plain"])
def test_the_check_does_not_depend_on_the_content_type(make_api, keys, content_type: str) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps(oss(keterangan="PLACEHOLDER")).replace("PLACEHOLDER", "a\\u0000b").encode()
    reply = make_api().post("/v1/applications", content=body,
                            headers={**keys["counter"], "Idempotency-Key": "c-1", "Content-Type": content_type})
    assert_text_invalid(reply, "/payload/keterangan")


def test_a_repeated_content_type_is_refused(make_api, keys) -> None:  # type: ignore[no-untyped-def]
    """Two Content-Types could be read differently by a proxy and by Gerbang (which one is the body?)."""
    body = json.dumps(oss(keterangan="PLACEHOLDER")).replace("PLACEHOLDER", "a\\u0000b").encode()
    headers = [*keys["counter"].items(), ("Idempotency-Key", "c-2"), ("Content-Type", "application/json"),
               ("Content-Type", "application/x-www-form-urlencoded")]
    reply = make_api().post("/v1/applications", content=body, headers=headers)
    assert reply.status_code == 400 and reply.json()["code"] == "header_repeated"


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_a_push_under_a_form_content_type_is_still_checked(make_api, content_type: str) -> None:  # type: ignore[no-untyped-def]
    body = b'{"RECEIVELICENSESTATUS":{"nib":"1","id_izin":"a","kd_status":"50","keterangan":"n\\u0000"}}'
    reply = make_api().post("/v1/inbound/oss/receiveLicenseStatus", content=body,
                            headers={"Token": "x", "Content-Type": content_type})
    assert_text_invalid(reply, "/RECEIVELICENSESTATUS/keterangan")


def test_a_multipart_body_with_a_raw_control_byte(make_api) -> None:  # type: ignore[no-untyped-def]
    body = b'--x\r\nContent-Disposition: form-data; name="key"\r\n\r\ngbk_\x00abc\r\n--x--\r\n'
    reply = make_api().post("/console/login", content=body,
                            headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert_text_invalid(reply)


def test_the_latest_time_in_year_9999_is_fine(make_api, keys) -> None:  # type: ignore[no-untyped-def]
    for value in ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.99999+00:00"):
        reply = make_api().get("/v1/audit/entries", params={"until": value}, headers=keys["operator"])
        assert reply.status_code == 200, reply.text


def test_a_rate_limit_below_the_minimum_is_refused(make_api, keys) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    for per_s in (5e-324, 1e-309, 0.0005):
        reply = api.post("/v1/admin/clients", headers=keys["operator"],
                         json={"name": f"slow-{per_s}", "scopes": ["application:read"], "purposes": [],
                               "rate_limit": {"per_s": per_s, "burst": 1}})
        assert 400 <= reply.status_code < 500, reply.text
    fine = api.post("/v1/admin/clients", headers=keys["operator"],
                    json={"name": "slow-ok", "scopes": ["application:read"], "purposes": [],
                          "rate_limit": {"per_s": 0.001, "burst": 1}})
    assert fine.status_code == 201, fine.text


def test_a_tiny_default_rate_answers_429_with_a_bounded_retry_after(make_api, keys) -> None:  # type: ignore[no-untyped-def]
    api = make_api(rate_limit_per_s=1e-320, rate_limit_burst=1)
    first = api.get("/v1/applications", headers=keys["counter"])
    second = api.get("/v1/applications", headers=keys["counter"])
    assert first.status_code == 200, first.text
    assert second.status_code == 429 and second.headers["Retry-After"] == "86400", second.text


def test_a_kk_number_in_other_digits_is_refused_and_dukcapil_stays_available(make_api, add_client) -> None:  # type: ignore[no-untyped-def]
    key = add_client("verifier", ["citizen:read:*", "citizen:verify"], ["identity_check"])
    api = make_api(breaker_threshold=2)
    headers = {"Authorization": f"Bearer {key}"}
    for digits in ("١" * 16, "１" * 16, "１" * 16):
        reply = api.post(f"/v1/citizens/{PERSON.nik}/verify", params={"purpose": "identity_check"},
                         headers=headers, json={"kk_number": digits})
        assert reply.status_code == 422, reply.text
    ok = api.post(f"/v1/citizens/{PERSON.nik}/verify", params={"purpose": "identity_check"}, headers=headers,
                  json={"full_name": PERSON.name})
    assert ok.status_code == 200, ok.text
