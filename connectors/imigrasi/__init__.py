"""Direktorat Jenderal Imigrasi (passports): passports held by a NIK, and passport applications.

No public specification of an Imigrasi passport web service exists. The protocol here is Gerbang's design in the
style of Indonesian government SOAP services: SOAP 1.1 document/literal (`service.wsdl`, namespace
`urn:id:imigrasi:paspor:v1`), WS-Security UsernameToken on every call, Indonesian element names,
`kodeRespon`/`pesan` reply pairs (00 found, 01 not found), Client/Server faults with `kesalahan/kode` in the detail.
Operations: `CariPasporByNIK`, `CekKoneksi` (health), `PermohonanPaspor` (application; the idempotency key travels
as the `idTransaksi` element). The business rules follow what is known of the real service: the applicant's NIK is
validated against Dukcapil, the fee is billed at once and paid within two hours, each office has a daily quota.
The WSDL is therefore Gerbang's **adapter contract**: what an agency (or an adapter in front of it) implements to
be reached. A deployment can point the connector at the agency's own WSDL instead (setting `wsdl`: a file or an
http(s) URL) with its lookup operation and reply code named in settings (`lookup_*`) and the reply's field names
only in a mapping (setting `mapping`); see docs/agencies.md.
"""

from __future__ import annotations

from connectors.base import agency_plugin
from connectors.imigrasi.client import PASSPORT_APPLICATION_SCHEMA, SERVICE_APPLICATION, ImigrasiClient, create
from connectors.imigrasi.facet import FACET
from identity.model import ROOT_FACET

PURPOSES = {"passport_application": {"title": "Passport application (Imigrasi)", "facets": [ROOT_FACET, FACET]}}
TITLE = "Direktorat Jenderal Imigrasi — passports"
SERVICES = {SERVICE_APPLICATION: PASSPORT_APPLICATION_SCHEMA}
PLUGIN = agency_plugin(__name__, TITLE, FACET, create, services=SERVICES, purposes=PURPOSES, protocol="soap")

__all__ = ["PLUGIN", "ImigrasiClient", "create"]
