"""Client of the Korlantas SIM web service (SOAP 1.1 + WS-Security UsernameToken), our own protocol design.

No public specification exists: the WSDL packaged next to this module (`service.wsdl`) is **Gerbang's adapter
contract**, not the agency's published interface. Its settings, and how a deployment points the connector at
the agency's own WSDL instead, are those of every SOAP connector: see `connectors.soap.open_soap_client`.

- `lookup(nik)` calls `CekSIMByNIK`: kodeRespon 00 → ok with fields {kodeRespon, pesan, pemegang{nama, tempatLahir,
  tanggalLahir, jenisKelamin}, daftarSIM: [{nomorSIM, golongan, tanggalTerbit, berlakuSampai, status,
  satpasPenerbit}]} (dates as ISO text); 01 → not_found.
- `submit("sim_renewal", payload, key)` calls `PerpanjanganSIM` with the key in the `KunciIdempotensi` SOAP header;
  Korlantas' refusals (SIM B1, number not the NIK's, blocked card) are Client faults → AgencyRejected.
- `health()` calls `CekStatusLayanan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.base import AgencyProtocolError, SubmitResult
from connectors.soap import LookupContract, SoapConnector, check_payload, open_soap_client, plain

AGENCY = "korlantas"
WSDL = Path(__file__).with_name("service.wsdl")
BINDING = "{urn:id:polri:korlantas:sim:v1}LayananSIMBinding"
SERVICE_RENEWAL = "sim_renewal"

SIM_RENEWAL_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Perpanjangan SIM (renewal of a SIM A or C)",
    "type": "object",
    "additionalProperties": False,
    "required": ["nik", "nomorSIM", "golongan", "nomorRikkes", "nomorPsikologi"],
    "properties": {
        "nik": {"type": "string", "pattern": "^[0-9]{16}$", "maxLength": 16, "description": "The holder's NIK"},
        "nomorSIM": {
            "type": "string",
            "pattern": "^[0-9]{12,16}$",
            "maxLength": 16,
            "description": "The SIM being renewed",
        },
        "golongan": {
            "type": "string",
            "enum": ["A", "C"],
            "description": "Only SIM A and C can be renewed at a service mall",
        },
        "nomorRikkes": {
            "type": "string",
            "pattern": "^[A-Z0-9][A-Z0-9/-]{5,39}$",
            "maxLength": 40,
            "description": "e-Rikkes (health check) result reference",
        },
        "nomorPsikologi": {
            "type": "string",
            "pattern": "^[A-Z0-9][A-Z0-9/-]{5,39}$",
            "maxLength": 40,
            "description": "e-PPSI (psychology test) result reference",
        },
        "satpas": {"type": "string", "maxLength": 120, "description": "Preferred SATPAS for collection"},
    },
    "examples": [
        {
            "nik": "3603282512770002",
            "nomorSIM": "127736307624",
            "golongan": "C",
            "nomorRikkes": "RIKKES-2025-000123",
            "nomorPsikologi": "PPSI-2025-000456",
        }
    ],
}


class KorlantasClient(SoapConnector):
    name = AGENCY
    ping_operation = "CekStatusLayanan"
    services = {SERVICE_RENEWAL: SIM_RENEWAL_SCHEMA}

    async def submit(self, service: str, payload: Mapping[str, Any], idempotency_key: str) -> SubmitResult:
        check_payload(AGENCY, self.services, service, payload)
        reply = plain(await self.session.call("PerpanjanganSIM", **payload, _soapheaders={"kunci": idempotency_key}))
        reference = reply.get("nomorPermohonan")
        if reply.get("kodeRespon") != "00" or not reference:
            raise AgencyProtocolError(AGENCY, "renewal reply without a reference", code=reply.get("kodeRespon"))
        return SubmitResult(agency=AGENCY, reference=reference, detail=reply)


def create(config: Mapping[str, str]) -> KorlantasClient:
    """A client from its settings (`GERBANG_AGENCY_KORLANTAS_*`)."""
    contract = LookupContract(
        AGENCY, config, operation="CekSIMByNIK", health_operation="CekStatusLayanan", lists={"daftarSIM": "sim"}
    )
    return open_soap_client(KorlantasClient, config, wsdl=WSDL, binding=BINDING, contract=contract)
