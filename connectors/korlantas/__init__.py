"""Korlantas Polri SIM (driving licences): licences held by a NIK, and online renewal of SIM A and C.

No public specification of the Korlantas SIM web service exists: `service.wsdl` (namespace
`urn:id:polri:korlantas:sim:v1`) is Gerbang's design in the style of Indonesian government SOAP services, its
**adapter contract**, which a deployment may replace by the agency's own (docs/agencies.md, connectors/soap.py).
Operations: `CekSIMByNIK`, `CekStatusLayanan` (health), `PerpanjanganSIM` (renewal; idempotency key in the
`KunciIdempotensi` SOAP header). The business rules follow what is known of the real service: renewal for SIM A
and C only, five years' validity from issue, e-Rikkes and e-PPSI results required, SIM number checked against the NIK.
"""

from __future__ import annotations

from connectors.base import agency_plugin
from connectors.korlantas.client import KorlantasClient, create
from connectors.korlantas.facet import FACET
from identity.model import ROOT_FACET

PURPOSES = {"sim_renewal": {"title": "Driving licence renewal (Korlantas)", "facets": [ROOT_FACET, FACET]}}
TITLE = "Korlantas Polri — SIM (driving licences)"
SERVICES = KorlantasClient.services
PLUGIN = agency_plugin(__name__, TITLE, FACET, create, services=SERVICES, purposes=PURPOSES, protocol="soap")

__all__ = ["PLUGIN", "KorlantasClient", "create"]
