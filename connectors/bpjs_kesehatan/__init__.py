"""BPJS Kesehatan (national health insurance, JKN): participant lookup by NIK and change of first-level clinic.

REST JSON in the VClaim style: HMAC-SHA256 signed headers, replies whose `response` is AES-256-CBC encrypted
LZ-string (recipe in `crypto.py`, codes and paths in `protocol.py`). The client is `client.BpjsKesehatanClient`,
the simulator `simulator.simulator`, the facet `health_insurance` (`facet.py`), the mapping
`mappings/bpjs_kesehatan.yaml`.
"""

from __future__ import annotations

from connectors.base import agency_plugin
from connectors.bpjs_kesehatan.client import BpjsKesehatanClient, create
from connectors.bpjs_kesehatan.facet import FACET
from connectors.bpjs_kesehatan.protocol import CODE_LISTS, SERVICES
from identity.model import ROOT_FACET

PURPOSES = {"health_insurance": {"title": "Health insurance services (BPJS Kesehatan)", "facets": [ROOT_FACET, FACET]}}
PLUGIN = agency_plugin(
    __name__, "BPJS Kesehatan", FACET, create, services=SERVICES, code_lists=CODE_LISTS, purposes=PURPOSES
)

__all__ = ["PLUGIN", "BpjsKesehatanClient", "create"]
