"""The three SOAP connectors' WSDLs are Gerbang's adapter contract; a deployment may point one at the agency's own
WSDL (setting `wsdl`, here a file) with other operation and element names, set by `lookup_*` settings, while the
reply's field names live only in a mapping (setting `mapping`, here a file). Served by a real SOAP server on
loopback that speaks that other WSDL (connectors/simkit/soap.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from lxml import etree

from connectors.base import AgencyProtocolError, FacetStatus
from connectors.korlantas import PLUGIN
from connectors.simkit.control import SimControl
from connectors.simkit.serving import RunningServer, serving
from connectors.simkit.soap import Builder, SoapRequest, SoapService, mount
from mappings.engine import plugin_mapping
from tests.connectors.helpers import run

WSDL = Path(__file__).parent / "fixtures" / "korlantas_other.wsdl"
NS = "urn:example:polri:licence:v2"
NIK, UNKNOWN = "3603282512770002", "3603280101900001"
MAPPING = """agency: korlantas
facet: driving_licences
fields:
  full_name: {from: fullName, transform: name}
  licences:
    from: licence
    default: []
    each:
      number: {from: licenceNo, transform: digits_exact}
      licence_class: {from: category, transform: name}
      issued_on: {from: issued, transform: {date: {formats: ["%Y-%m-%d"]}}}
      valid_until: {from: expires, transform: {date: {formats: ["%Y-%m-%d"]}}}
"""


def other_agency() -> FastAPI:
    b = Builder(NS, "lic")

    def get_licences(request: SoapRequest) -> etree._Element:
        if request.text("idNumber") != NIK:
            return b.el("GetLicencesResponse", children=[b.el("result", "NONE")])
        licence = b.el("licence", children=[b.el("licenceNo", "127736307624"), b.el("category", "c"),
                                            b.el("issued", "2021-03-04"), b.el("expires", "2026-03-04")])
        return b.el("GetLicencesResponse", children=[b.el("result", "FOUND"), b.el("fullName", "deni sobandi "),
                                                     licence])

    app = FastAPI()
    mount(app, SoapService(path="/licence", wsdl=WSDL, namespace=NS, users={"gerbang": "rahasia"},
                           operations={"GetLicences": get_licences,
                                       "Ping": lambda request: b.el("PingResponse", children=[b.el("ok", "1")])}),
          SimControl())
    return app


@pytest.fixture(scope="module")
def agency() -> Iterator[RunningServer]:
    with serving(other_agency()) as server:
        yield server


def settings(server: RunningServer, **extra: str) -> dict[str, str]:
    return {"url": f"{server.url}/licence", "user": "gerbang", "password": "rahasia", "wsdl": str(WSDL),
            "lookup_operation": "GetLicences", "lookup_nik_argument": "idNumber", "lookup_code_element": "result",
            "lookup_found_code": "FOUND", "lookup_not_found_code": "NONE", "health_operation": "Ping", **extra}


def test_the_agencys_own_wsdl_from_a_file(agency: RunningServer, tmp_path: Path) -> None:
    result = run(PLUGIN, settings(agency), lambda c: c.lookup(NIK))
    assert result.status is FacetStatus.ok and result.agency_code == "FOUND"
    assert result.fields["fullName"] == "deni sobandi "
    mapping_file = tmp_path / "korlantas_v2.yaml"
    mapping_file.write_text(MAPPING, encoding="utf-8")
    facet = plugin_mapping(PLUGIN, str(mapping_file)).apply(dict(result.fields))
    assert facet.full_name == "DENI SOBANDI"
    [licence] = facet.licences
    assert (licence.number, licence.licence_class) == ("127736307624", "C")
    assert licence.valid_until == dt.date(2026, 3, 4)
    assert run(PLUGIN, settings(agency), lambda c: c.lookup(UNKNOWN)).status is FacetStatus.not_found
    assert run(PLUGIN, settings(agency), lambda c: c.health()).up is True


def test_an_unexpected_code_is_a_protocol_error(agency: RunningServer) -> None:
    with pytest.raises(AgencyProtocolError, match="result"):
        run(PLUGIN, settings(agency, lookup_found_code="ADA"), lambda c: c.lookup(NIK))


@pytest.mark.parametrize("overrides, complaint", [
    ({"lookup_operation": "CekSIMByNIK"}, "no operation CekSIMByNIK"),
    ({"health_operation": "CekStatusLayanan"}, "no operation CekStatusLayanan"),
    ({"wsdl": "/nonexistent/agency.wsdl"}, "setting wsdl"),
    ({"lookup_nik_argument": "id number"}, "lookup_nik_argument"),
])
def test_a_wsdl_that_does_not_fit_is_refused_at_start(agency: RunningServer, overrides: dict[str, str],
                                                      complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        PLUGIN.create(settings(agency, **overrides))


def test_default_is_the_packaged_adapter_contract() -> None:
    client: Any = PLUGIN.create({"url": "http://127.0.0.1:9/ws/sim", "user": "u", "password": "p"})
    try:
        assert "CekSIMByNIK" in client.session.operations() and client.contract.operation == "CekSIMByNIK"
    finally:
        client.session.close_now()


def test_the_agencys_own_wsdl_from_its_url(agency: RunningServer) -> None:
    """A URL is read once at start-up, from that origin only (here the agency's loopback server)."""
    config = settings(agency, wsdl=f"{agency.url}/licence?wsdl")
    assert run(PLUGIN, config, lambda c: c.lookup(NIK)).status is FacetStatus.ok
