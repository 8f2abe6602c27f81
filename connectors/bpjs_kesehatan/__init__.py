"""BPJS Kesehatan (national health insurance, JKN): participant lookup by NIK and change of first-level clinic.

REST JSON in the VClaim style: HMAC-SHA256 signed headers, replies whose `response` is AES-256-CBC encrypted
LZ-string (recipe in `crypto.py`, codes and paths in `protocol.py`). The client is `client.BpjsKesehatanClient`,
the simulator `simulator.simulator`, the mapping `mappings/bpjs_kesehatan.yaml` (facet `health_insurance`).
"""

from __future__ import annotations

from connectors.base import ConnectorPlugin, lazy
from connectors.bpjs_kesehatan.client import BpjsKesehatanClient, create
from connectors.bpjs_kesehatan.protocol import AGENCY, CODE_LISTS, SERVICES

PLUGIN = ConnectorPlugin(
    name=AGENCY,
    title="BPJS Kesehatan",
    facet="health_insurance",
    mapping="bpjs_kesehatan",
    create=create,
    simulator=lazy("connectors.bpjs_kesehatan.simulator", "simulator"),
    sim_config=lazy("connectors.bpjs_kesehatan.simulator", "sim_config"),
    services=SERVICES,
    code_lists=CODE_LISTS,
    protocol="rest",
)

__all__ = ["PLUGIN", "BpjsKesehatanClient", "create"]
