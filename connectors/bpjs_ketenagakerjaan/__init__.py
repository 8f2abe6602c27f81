"""BPJS Ketenagakerjaan (workers' social security): membership and programmes by NIK, and member registration.

No public specification of a BPJS Ketenagakerjaan membership web service exists: `service.wsdl` (namespace
`urn:id:bpjsketenagakerjaan:kepesertaan:v1`) is Gerbang's design in the style of Indonesian government SOAP
services, its **adapter contract**, which a deployment may replace by the agency's own (docs/agencies.md,
connectors/soap.py). Operations: `CekKepesertaan` (KPJ number, segment PU/BPU/PMI, status, employer name and NPP,
programmes JHT, JKK, JKM, JP, JKP), `StatusLayanan` (health), `PendaftaranPeserta` (registration; idempotency key
in the `KunciIdempotensi` SOAP header). The programme rules follow the regulations (PP 44, 45, 46/2015; PP 37/2021).
"""

from __future__ import annotations

from connectors.base import agency_plugin
from connectors.bpjs_ketenagakerjaan.client import BpjsKetenagakerjaanClient, create
from connectors.bpjs_ketenagakerjaan.facet import FACET
from identity.model import ROOT_FACET

TITLE = "BPJS Ketenagakerjaan — workers' social security membership"
PURPOSES = {
    "employment_insurance": {
        "title": "Employment insurance services (BPJS Ketenagakerjaan)",
        "facets": [ROOT_FACET, FACET],
    }
}
SERVICES = BpjsKetenagakerjaanClient.services
PLUGIN = agency_plugin(__name__, TITLE, FACET, create, services=SERVICES, purposes=PURPOSES, protocol="soap")

__all__ = ["PLUGIN", "BpjsKetenagakerjaanClient", "create"]
