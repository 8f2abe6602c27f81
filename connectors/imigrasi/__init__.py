"""Direktorat Jenderal Imigrasi (passports): passports held by a NIK, and passport applications.

No public specification of an Imigrasi passport web service exists: `service.wsdl` (namespace
`urn:id:imigrasi:paspor:v1`) is Gerbang's design in the style of Indonesian government SOAP services, its
**adapter contract**, which a deployment may replace by the agency's own (docs/agencies.md, connectors/soap.py).
Operations: `CariPasporByNIK`, `CekKoneksi` (health), `PermohonanPaspor` (application; the idempotency key travels
as the `idTransaksi` element). The business rules follow what is known of the real service: the applicant's NIK is
validated against Dukcapil, the fee is billed at once and paid within two hours, each office has a daily quota.
"""

from __future__ import annotations

from connectors.base import agency_plugin
from connectors.imigrasi.client import ImigrasiClient, create
from connectors.imigrasi.facet import FACET
from identity.model import ROOT_FACET

PURPOSES = {"passport_application": {"title": "Passport application (Imigrasi)", "facets": [ROOT_FACET, FACET]}}
TITLE = "Direktorat Jenderal Imigrasi — passports"
SERVICES = ImigrasiClient.services
PLUGIN = agency_plugin(__name__, TITLE, FACET, create, services=SERVICES, purposes=PURPOSES, protocol="soap")

__all__ = ["PLUGIN", "ImigrasiClient", "create"]
