"""Client of the BPJS Ketenagakerjaan membership web service (SOAP 1.1 + WS-Security UsernameToken), our design.

No public specification exists: the WSDL packaged next to this module (`service.wsdl`) is **Gerbang's adapter
contract**, not the agency's published interface. Its settings, and how a deployment points the connector at
the agency's own WSDL instead, are those of every SOAP connector: see `connectors.soap_connector`.

- `lookup(nik)` calls `CekKepesertaan`: kodeRespon 00 → ok with fields {kodeRespon, pesan, peserta{nomorKPJ, nama,
  tanggalLahir, jenisKelamin, segmen, statusKepesertaan, tanggalKepesertaan}, perusahaan{npp, namaPerusahaan} or
  None, daftarProgram: [{kodeProgram, namaProgram, status, tanggalMulai}]} (dates ISO text); 01 → not_found.
- `submit("membership_registration", payload, key)` calls `PendaftaranPeserta` with the key in the
  `KunciIdempotensi` SOAP header; refusals (already an active member, unknown employer NPP, missing mandatory
  programmes, identity not Dukcapil's) are Client faults → AgencyRejected.
- `health()` calls `StatusLayanan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.base import payload_schema
from connectors.soap_connector import LookupContract, SoapConnector, SoapSubmission
from identity.clock import today_wib

AGENCY = "bpjs_ketenagakerjaan"
WSDL = Path(__file__).with_name("service.wsdl")
BINDING = "{urn:id:bpjsketenagakerjaan:kepesertaan:v1}LayananKepesertaanBinding"
SERVICE_REGISTRATION = "membership_registration"

MEMBERSHIP_REGISTRATION_SCHEMA = payload_schema(
    "Pendaftaran peserta BPJS Ketenagakerjaan (membership registration)",
    ["nik", "nama", "tanggalLahir", "jenisKelamin", "segmen", "upah", "tanggalMulai", "daftarProgram"],
    properties={
        "nik": {"type": "string", "pattern": "^[0-9]{16}$", "maxLength": 16},
        "nama": {"type": "string", "minLength": 1, "maxLength": 100, "description": "Full name as Dukcapil holds it"},
        "tanggalLahir": {
            "type": "string",
            "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "maxLength": 10,
        },
        "jenisKelamin": {"type": "string", "enum": ["L", "P"]},
        "segmen": {
            "type": "string",
            "enum": ["PU", "BPU"],
            "description": "PU: wage earner (needs the employer's NPP); BPU: non-wage earner",
        },
        "npp": {
            "type": "string",
            "pattern": "^[0-9]{8}$",
            "maxLength": 8,
            "description": "Employer registration number (PU)",
        },
        "upah": {
            "type": "string",
            "pattern": "^[0-9]{1,12}(\\.[0-9]{1,2})?$",
            "maxLength": 15,
            "description": "Monthly wage (PU) or declared income (BPU) in rupiah, as exact decimal text",
        },
        "tanggalMulai": {
            "type": "string",
            "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "maxLength": 10,
            "description": "First day of membership: from 31 days ago to 90 days ahead",
        },
        "daftarProgram": {
            "type": "array",
            "minItems": 2,
            "maxItems": 5,
            "uniqueItems": True,
            "items": {"type": "string", "enum": ["JHT", "JKK", "JKM", "JP", "JKP"]},
        },
    },
    conditions={"if": {"properties": {"segmen": {"const": "PU"}}}, "then": {"required": ["npp"]}},
    examples=[
        {
            "nik": "3603281007080027",
            "nama": "ADE RUKMANA",
            "tanggalLahir": "2008-07-10",
            "jenisKelamin": "L",
            "segmen": "PU",
            "npp": "10751545",
            "upah": "5000000",
            "tanggalMulai": today_wib().isoformat(),
            "daftarProgram": ["JHT", "JKK", "JKM", "JP", "JKP"],
        }
    ],
)


def registration_arguments(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The wage as an exact decimal, the programme codes in the WSDL's `daftarProgram/kodeProgram` wrapper."""
    return {
        **payload,
        "upah": Decimal(payload["upah"]),
        "daftarProgram": {"kodeProgram": list(payload["daftarProgram"])},
    }


REGISTRATION = SoapSubmission(
    "PendaftaranPeserta",
    MEMBERSHIP_REGISTRATION_SCHEMA,
    "nomorRegistrasi",
    key_header="kunci",
    noun="registration",
    arguments=registration_arguments,
)


class BpjsKetenagakerjaanClient(SoapConnector):
    name, wsdl, binding = AGENCY, WSDL, BINDING
    contract = LookupContract("CekKepesertaan", health_operation="StatusLayanan", lists={"daftarProgram": "program"})
    submissions = {SERVICE_REGISTRATION: REGISTRATION}


create = BpjsKetenagakerjaanClient.from_settings  # settings: GERBANG_AGENCY_BPJS_KETENAGAKERJAAN_*
