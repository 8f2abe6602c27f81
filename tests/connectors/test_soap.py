"""The SOAP helpers on both sides: WS-Security checks, safe parsing, faults, error mapping, no network for WSDLs."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import zeep.exceptions
from lxml import etree
from zeep.wsse.username import UsernameToken

from connectors.base import (AgencyAccessDenied, AgencyProtocolError, AgencyRejected, AgencyTimeout,
                             AgencyUnavailable, ConnectorPlugin, FacetStatus, NotSupported, check_payload)
from connectors.simkit import soap as sim
from connectors.simkit.population import Population
from connectors.simkit.serving import serving
from connectors.soap import (SoapSession, fault_error, password_token, plain, strict_settings,
                             transport_error)
from mappings.engine import load_mapping
from tests.connectors.helpers import each_agency, run, set_fault

NS = "urn:test:layanan"
USERS = {"petugas": "rahasia"}


def signed_envelope(token: UsernameToken | None, body: str = f'<t:Ping xmlns:t="{NS}"/>') -> bytes:
    """An envelope carrying `token` as zeep would send it."""
    root = etree.fromstring(f'<s:Envelope xmlns:s="{sim.SOAP_ENV}"><s:Header/><s:Body>{body}</s:Body>'
                            f'</s:Envelope>')
    if token is not None:
        token.apply(root, {})
    return etree.tostring(root)


def header_of(raw: bytes) -> etree._Element | None:
    header, _ = sim.parse_envelope(raw)
    return header


@pytest.mark.parametrize("digest", [False, True])
def test_username_token_accepted(digest: bool) -> None:
    raw = signed_envelope(UsernameToken("petugas", "rahasia", use_digest=digest, zulu_timestamp=True))
    assert sim.authenticate(header_of(raw), USERS, sim.NonceCache()) == "petugas"


@pytest.mark.parametrize("digest", [False, True])
@pytest.mark.parametrize("user,password", [("petugas", "salah"), ("orang-lain", "rahasia")])
def test_wrong_credentials_fail_authentication(digest: bool, user: str, password: str) -> None:
    raw = signed_envelope(UsernameToken(user, password, use_digest=digest))
    with pytest.raises(sim.SoapFault) as caught:
        sim.authenticate(header_of(raw), USERS, sim.NonceCache())
    assert caught.value.code == "wsse:FailedAuthentication"


def test_missing_security_header_is_invalid_security() -> None:
    with pytest.raises(sim.SoapFault) as caught:
        sim.authenticate(header_of(signed_envelope(None)), USERS, sim.NonceCache())
    assert caught.value.code == "wsse:InvalidSecurity"


def test_replayed_digest_is_refused() -> None:
    raw = signed_envelope(UsernameToken("petugas", "rahasia", use_digest=True))
    nonces = sim.NonceCache()
    sim.authenticate(header_of(raw), USERS, nonces)
    with pytest.raises(sim.SoapFault, match="nonce"):
        sim.authenticate(header_of(raw), USERS, nonces)


def test_stale_digest_has_expired() -> None:
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    raw = signed_envelope(UsernameToken("petugas", "rahasia", use_digest=True, created=old))
    with pytest.raises(sim.SoapFault) as caught:
        sim.authenticate(header_of(raw), USERS, sim.NonceCache())
    assert caught.value.code == "wsse:MessageExpired"


@pytest.mark.parametrize("digest,accepted", [("yoKTTMsKwB89BJdytEi4YzbUYLA=", True),
                                             ("9VNl4oFBmMfQyXXN5iKbiBNxzFE=", False)])
def test_digest_follows_the_oasis_formula(digest: str, accepted: bool) -> None:
    # Base64(SHA-1(nonce + created + password)) for nonce "abcdefghijklmnop", created 2025-01-02T03:04:05Z and
    # password "rahasia", computed by hand once; the second value is a digest of something else.
    token = UsernameToken("petugas", "rahasia", use_digest=True, nonce="abcdefghijklmnop", password_digest=digest,
                          created=dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), zulu_timestamp=True)
    header = header_of(signed_envelope(token))
    now = dt.datetime(2025, 1, 2, 3, 5, tzinfo=dt.timezone.utc)
    if accepted:
        assert sim.authenticate(header, USERS, sim.NonceCache(), now=now) == "petugas"
    else:
        with pytest.raises(sim.SoapFault, match="could not be authenticated"):
            sim.authenticate(header, USERS, sim.NonceCache(), now=now)


@pytest.mark.parametrize("raw,kode", [
    (b"not xml at all", "XML-01"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>', "XML-02"),
    (b"<Antwort/>", "XML-01"),
    (f'<s:Envelope xmlns:s="{sim.SOAP_ENV}"><s:Body/></s:Envelope>'.encode(), "XML-01"),
])
def test_bad_envelopes_are_client_faults(raw: bytes, kode: str) -> None:
    with pytest.raises(sim.SoapFault) as caught:
        sim.parse_envelope(raw)
    assert caught.value.code == "soap:Client" and caught.value.kode == kode


def test_soap12_envelope_is_a_version_mismatch() -> None:
    with pytest.raises(sim.SoapFault) as caught:
        sim.parse_envelope(b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><x/></e:Body>'
                           b'</e:Envelope>')
    assert caught.value.code == "soap:VersionMismatch"


def service(handler: sim.Handler) -> sim.SoapService:
    return sim.SoapService(path="/ws", wsdl=Path("unused.wsdl"), namespace=NS, operations={"Ping": handler},
                           users=USERS)


def fault_of(response: object) -> tuple[int, str | None, str | None]:
    root = etree.fromstring(response.body)  # type: ignore[attr-defined]
    fault = root.find(f".//{{{sim.SOAP_ENV}}}Fault")
    assert fault is not None
    return response.status_code, fault.findtext("faultcode"), fault.findtext(f"detail/{{{NS}}}kesalahan/{{{NS}}}kode")  # type: ignore[attr-defined]


def test_dispatch_answers_and_faults() -> None:
    b = sim.Builder(NS, "t")
    ok = service(lambda request: b.el("PingResponse", request.username))
    token = UsernameToken("petugas", "rahasia")
    reply = sim.handle(ok, signed_envelope(token), "text/xml; charset=utf-8")
    assert reply.status_code == 200
    assert etree.fromstring(reply.body).findtext(f".//{{{NS}}}PingResponse") == "petugas"

    unknown = signed_envelope(token, f'<t:Hapus xmlns:t="{NS}"/>')
    assert fault_of(sim.handle(ok, unknown, "text/xml")) == (500, "soap:Client", "OPS-01")
    assert sim.handle(ok, signed_envelope(token), "application/soap+xml").status_code == 415

    def broken(request: sim.SoapRequest) -> etree._Element:
        raise RuntimeError("bug")

    assert fault_of(sim.handle(service(broken), signed_envelope(token), "text/xml")) == (500, "soap:Server", "SYS-01")


def test_wsdl_address_is_rewritten() -> None:
    wsdl = (f'<d:definitions xmlns:d="{sim.WSDL_NS}" xmlns:soap="{sim.WSDL_SOAP}"><d:service><d:port>'
            f'<soap:address location="https://example.invalid/ws"/></d:port></d:service></d:definitions>').encode()
    out = etree.fromstring(sim.wsdl_with_address(wsdl, "http://127.0.0.1:9/ws"))
    assert out.find(f".//{{{sim.WSDL_SOAP}}}address").get("location") == "http://127.0.0.1:9/ws"


def fault(code: str, kode: str | None = None) -> zeep.exceptions.Fault:
    detail = None
    if kode:
        detail = etree.fromstring(f'<detail><k:kesalahan xmlns:k="{NS}"><k:kode>{kode}</k:kode></k:kesalahan>'
                                  f'</detail>')
    return zeep.exceptions.Fault("pesan", code=code, detail=detail)


@pytest.mark.parametrize("code,kind", [
    ("soap:Client", AgencyRejected), ("SOAP-ENV:Client.Validation", AgencyRejected),
    ("soap:Server", AgencyUnavailable), ("wsse:FailedAuthentication", AgencyAccessDenied),
    ("wsse:InvalidSecurity", AgencyAccessDenied), ("soap:MustUnderstand", AgencyProtocolError),
])
def test_faults_map_to_agency_errors(code: str, kind: type) -> None:
    error = fault_error("x", fault(code, "SIM-11"))
    assert type(error) is kind and error.code == "SIM-11"


def test_transport_errors_map_by_status() -> None:
    assert isinstance(transport_error("x", zeep.exceptions.TransportError(status_code=503)), AgencyUnavailable)
    assert isinstance(transport_error("x", zeep.exceptions.TransportError(status_code=403)), AgencyAccessDenied)
    assert type(transport_error("x", zeep.exceptions.TransportError(status_code=200))) is AgencyProtocolError


def test_plain_makes_json_friendly_values() -> None:
    value = plain({"a": [dt.date(2025, 1, 2)], "b": decimal.Decimal("150000.00"), "c": None})
    assert value == {"a": ["2025-01-02"], "b": "150000.00", "c": None}


def test_password_type_is_checked() -> None:
    assert password_token("u", "p", "text").use_digest is False
    assert password_token("u", "p").use_digest is True
    with pytest.raises(ValueError, match="digest"):
        password_token("u", "p", "md5")


def test_payload_checked_against_schema_without_echoing_values() -> None:
    services = {"svc": {"type": "object", "required": ["nik"],
                        "properties": {"nik": {"type": "string", "pattern": "^[0-9]{16}$"}}}}
    with pytest.raises(NotSupported):
        check_payload("x", services, "other", {})
    with pytest.raises(AgencyRejected) as caught:
        check_payload("x", services, "svc", {"nik": "BUDI SANTOSO"})
    assert "BUDI" not in str(caught.value) and "nik" in str(caught.value)
    check_payload("x", services, "svc", {"nik": "3276014101990001"})


def test_wsdl_imports_from_the_network_are_refused(tmp_path: Path) -> None:
    wsdl = tmp_path / "remote.wsdl"
    wsdl.write_text(f'<d:definitions xmlns:d="{sim.WSDL_NS}" targetNamespace="{NS}">'
                    f'<d:import namespace="urn:x" location="http://198.51.100.1/other.wsdl"/></d:definitions>')
    with pytest.raises(zeep.exceptions.ExternalReferenceForbidden):
        SoapSession("x", wsdl, "http://127.0.0.1:9/ws")


def test_strict_settings_are_hardened() -> None:
    settings = strict_settings()
    assert settings.strict and settings.forbid_dtd and settings.forbid_entities and settings.forbid_external
    assert not settings.xml_huge_tree


def test_session_refuses_a_non_http_address() -> None:
    with pytest.raises(ValueError, match="http"):
        SoapSession("x", Path(__file__), "file:///etc/passwd")


def test_holder_variants_differ_and_are_rare() -> None:
    import random

    rng = random.Random(1)
    holders = [sim.holder_as_known("MUHAMMAD RIZKY PRATAMA", dt.date(1990, 5, 4), "L", rng) for _ in range(2000)]
    variants = [h for h in holders if h.variant]
    assert 0.03 < len(variants) / len(holders) < 0.07
    assert all((h.name, h.birth_date) != ("MUHAMMAD RIZKY PRATAMA", dt.date(1990, 5, 4)) for h in variants)


# --- every SOAP connector against its simulator over loopback HTTP: the protocol-level behaviour they share -----

SOAP_AGENCIES = ["korlantas", "imigrasi", "bpjs_ketenagakerjaan"]


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(seed=2024, size=40)


agency = each_agency(SOAP_AGENCIES)


def fault_code_of(reply: httpx.Response) -> str | None:
    return etree.fromstring(reply.content).findtext(f".//{{{sim.SOAP_ENV}}}Fault/faultcode")


def test_plugin_declares_soap(plugin: ConnectorPlugin) -> None:
    assert plugin.protocol == "soap" and plugin.services and plugin.sim_config is not None
    assert load_mapping(plugin.mapping).facet == plugin.facet


def test_wsdl_is_served_with_own_address(plugin: ConnectorPlugin, server: Any) -> None:
    endpoint = plugin.sim_config(server.url)["url"]
    reply = httpx.get(f"{endpoint}?wsdl")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/xml")
    address = etree.fromstring(reply.content).find(f".//{{{sim.WSDL_SOAP}}}address")
    assert address is not None and address.get("location") == endpoint
    assert httpx.get(endpoint).status_code == 400


@pytest.mark.parametrize("password_type", ["digest", "text"])
def test_right_password_works_both_ways(plugin: ConnectorPlugin, server: Any, population: Population,
                                        password_type: str) -> None:
    config = {**plugin.sim_config(server.url), "password_type": password_type}
    result = run(plugin, config, lambda c: c.lookup(population.people[0].nik))
    assert result.status in (FacetStatus.ok, FacetStatus.not_found)


@pytest.mark.parametrize("password_type", ["digest", "text"])
def test_wrong_password_is_access_denied(plugin: ConnectorPlugin, server: Any, population: Population,
                                         password_type: str) -> None:
    config = {**plugin.sim_config(server.url), "password": "salah", "password_type": password_type}
    with pytest.raises(AgencyAccessDenied) as caught:
        run(plugin, config, lambda c: c.lookup(population.people[0].nik))
    assert caught.value.code == "FailedAuthentication"


def test_missing_security_header_is_a_fault(plugin: ConnectorPlugin, server: Any, population: Population) -> None:
    config = plugin.sim_config(server.url)
    client = plugin.create(config)
    client.session.client.wsse = None  # the same client, minus its UsernameToken
    with pytest.raises(AgencyAccessDenied) as caught:
        asyncio.run(_lookup_and_close(client, population.people[0].nik))
    assert caught.value.code == "InvalidSecurity"


async def _lookup_and_close(client: Any, nik: str) -> Any:
    try:
        return await client.lookup(nik)
    finally:
        await client.aclose()


def test_unknown_operation_and_bad_nik_are_client_faults(plugin: ConnectorPlugin, server: Any) -> None:
    config = plugin.sim_config(server.url)
    token = UsernameToken(config["user"], config["password"], use_digest=True)
    raw = signed_envelope(token, '<x:Hapus xmlns:x="urn:tidak:dikenal"/>')
    reply = httpx.post(config["url"], content=raw, headers={"Content-Type": "text/xml; charset=utf-8"})
    assert reply.status_code == 500 and fault_code_of(reply) == "soap:Client"
    with pytest.raises(AgencyRejected):
        run(plugin, config, lambda c: c.lookup("12345"))


def test_health_is_up_and_timed(plugin: ConnectorPlugin, server: Any) -> None:
    health = run(plugin, plugin.sim_config(server.url), lambda c: c.health())
    assert health.up and health.agency == plugin.name and health.latency_ms is not None


def test_down_is_unavailable(plugin: ConnectorPlugin, server: Any, population: Population) -> None:
    set_fault(server.url, "down")
    config = plugin.sim_config(server.url)
    with pytest.raises(AgencyUnavailable) as caught:
        run(plugin, config, lambda c: c.lookup(population.people[0].nik))
    assert not isinstance(caught.value, AgencyTimeout)
    health = run(plugin, config, lambda c: c.health())
    assert not health.up and "AgencyUnavailable" in (health.detail or "")


def test_slow_beyond_the_timeout_is_a_timeout(plugin: ConnectorPlugin, server: Any, population: Population) -> None:
    set_fault(server.url, "slow", delay_ms=600)
    with pytest.raises(AgencyTimeout):
        run(plugin, {**plugin.sim_config(server.url), "timeout_s": "0.2"},
            lambda c: c.lookup(population.people[0].nik))


def test_error_is_a_server_fault_and_unavailable(plugin: ConnectorPlugin, server: Any, population: Population) -> None:
    set_fault(server.url, "error")
    config = plugin.sim_config(server.url)
    raw = httpx.post(config["url"], headers={"Content-Type": "text/xml"}, content=b"<x/>")
    assert raw.status_code == 500 and fault_code_of(raw) == "soap:Server"
    with pytest.raises(AgencyUnavailable) as caught:
        run(plugin, config, lambda c: c.lookup(population.people[0].nik))
    assert not isinstance(caught.value, AgencyTimeout) and caught.value.code == "SYS-99"


def test_garbage_is_a_protocol_error(plugin: ConnectorPlugin, server: Any, population: Population) -> None:
    set_fault(server.url, "garbage")
    config = plugin.sim_config(server.url)
    assert httpx.post(config["url"], content=b"").headers["content-type"].startswith("text/xml")
    with pytest.raises(AgencyProtocolError):
        run(plugin, config, lambda c: c.lookup(population.people[0].nik))


def test_connection_refused_is_unavailable(plugin: ConnectorPlugin, population: Population) -> None:
    with serving(plugin.simulator(population)) as gone:
        url = gone.url
    with pytest.raises(AgencyUnavailable):
        run(plugin, plugin.sim_config(url), lambda c: c.lookup(population.people[0].nik))


def test_missing_settings_are_a_clear_error(plugin: ConnectorPlugin) -> None:
    with pytest.raises(ValueError, match=f"GERBANG_AGENCY_{plugin.name.upper()}_URL"):
        plugin.create({"user": "u", "password": "p"})
    with pytest.raises(ValueError, match="timeout_s"):
        plugin.create({"url": "http://127.0.0.1:9/ws", "user": "u", "password": "p", "timeout_s": "soon"})


def test_verify_is_not_supported(plugin: ConnectorPlugin) -> None:
    with pytest.raises(NotSupported):
        run(plugin, {"url": "http://127.0.0.1:9/ws", "user": "u", "password": "p"},
            lambda c: c.verify("3276014101990001", {}))


def test_the_binding_is_the_declared_one_else_the_wsdls_only_one() -> None:
    from connectors.soap import _chosen_binding

    assert _chosen_binding("x", ["{urn:a}A", "{urn:a}B"], "{urn:a}B") == "{urn:a}B"
    assert _chosen_binding("x", ["{urn:other}Only"], "{urn:a}B") == "{urn:other}Only"  # another WSDL (setting wsdl)
    assert _chosen_binding("x", ["{urn:other}Only"], None) == "{urn:other}Only"
    with pytest.raises(ValueError, match="2 bindings; name one"):
        _chosen_binding("x", ["{urn:a}A", "{urn:a}B"], None)
    with pytest.raises(ValueError, match="no binding {urn:a}C and 2 others"):
        _chosen_binding("x", ["{urn:a}A", "{urn:a}B"], "{urn:a}C")
