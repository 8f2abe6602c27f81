"""Client of the Korlantas SIM web service (SOAP 1.1 + WS-Security UsernameToken), our own protocol design.

No public specification exists: the WSDL packaged next to this module (`service.wsdl`) is **Gerbang's adapter
contract**, not the agency's published interface. Its settings, and how a deployment points the connector at
the agency's own WSDL instead, are those of every SOAP connector: see `connectors.soap_connector`.

- `lookup(nik)` calls `CekSIMByNIK`: kodeRespon 00 → ok with fields {kodeRespon, pesan, pemegang{nama, tempatLahir,
  tanggalLahir, jenisKelamin}, daftarSIM: [{nomorSIM, golongan, tanggalTerbit, berlakuSampai, status,
  satpasPenerbit}]} (dates as ISO text); 01 → not_found.
- `submit("sim_renewal", payload, key)` calls `PerpanjanganSIM` with the key in the `KunciIdempotensi` SOAP header;
  Korlantas' refusals (SIM B1, number not the NIK's, blocked card) are Client faults → AgencyRejected.
- `health()` calls `CekStatusLayanan`.
"""

from __future__ import annotations

from pathlib import Path

from connectors.base import payload_schema
from connectors.soap_connector import LookupContract, SoapConnector, SoapSubmission

AGENCY = "korlantas"
WSDL = Path(__file__).with_name("service.wsdl")
BINDING = "{urn:id:polri:korlantas:sim:v1}LayananSIMBinding"
SERVICE_RENEWAL = "sim_renewal"

SIM_RENEWAL_SCHEMA = payload_schema(
    "Perpanjangan SIM (renewal of a SIM A or C)",
    ["nik", "nomorSIM", "golongan", "nomorRikkes", "nomorPsikologi"],
    properties={
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
    examples=[
        {
            "nik": "3603282512770002",
            "nomorSIM": "127736307624",
            "golongan": "C",
            "nomorRikkes": "RIKKES-2025-000123",
            "nomorPsikologi": "PPSI-2025-000456",
        }
    ],
)


RENEWAL = SoapSubmission("PerpanjanganSIM", SIM_RENEWAL_SCHEMA, "nomorPermohonan", key_header="kunci", noun="renewal")


class KorlantasClient(SoapConnector):
    name, wsdl, binding = AGENCY, WSDL, BINDING
    contract = LookupContract("CekSIMByNIK", health_operation="CekStatusLayanan", lists={"daftarSIM": "sim"})
    submissions = {SERVICE_RENEWAL: RENEWAL}


create = KorlantasClient.from_settings  # settings: GERBANG_AGENCY_KORLANTAS_*
