"""Client of the Imigrasi passport web service (SOAP 1.1 + WS-Security UsernameToken), our own protocol design.

No public specification exists: the WSDL packaged next to this module (`service.wsdl`) is **Gerbang's adapter
contract**, not the agency's published interface. Its settings, and how a deployment points the connector at
the agency's own WSDL instead, are those of every SOAP connector: see `connectors.soap.open_soap_client`.

- `lookup(nik)` calls `CariPasporByNIK`: kodeRespon 00 → ok with fields {kodeRespon, pesan, pemilik{namaLengkap,
  tempatLahir, tanggalLahir, jenisKelamin}, daftarPaspor: [{nomorPaspor, jenis, tanggalTerbit, tanggalHabisBerlaku,
  kantorImigrasi, status}]} (newest first, dates as ISO text); 01 → not_found.
- `submit("passport_application", payload, key)` calls `PermohonanPaspor` with the key as `idTransaksi`; the
  reply's billing code must be paid within two hours. Refusals (NIK unknown to Dukcapil, name or birth date not
  Dukcapil's, quota full) are Client faults → AgencyRejected.
- `health()` calls `CekKoneksi`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.base import AgencyProtocolError, SubmitResult
from connectors.examples import working_day
from connectors.soap import LookupContract, SoapConnector, check_payload, open_soap_client, plain

AGENCY = "imigrasi"
WSDL = Path(__file__).with_name("service.wsdl")
BINDING = "{urn:id:imigrasi:paspor:v1}LayananPasporBinding"
SERVICE_APPLICATION = "passport_application"

KANTOR_IMIGRASI: dict[str, str] = {
    "JKTSEL": "KANTOR IMIGRASI KELAS I KHUSUS TPI JAKARTA SELATAN",
    "JKTPUS": "KANTOR IMIGRASI KELAS I KHUSUS TPI JAKARTA PUSAT",
    "TNG": "KANTOR IMIGRASI KELAS I KHUSUS NON TPI TANGERANG",
    "BDG": "KANTOR IMIGRASI KELAS I TPI BANDUNG",
    "SMG": "KANTOR IMIGRASI KELAS I TPI SEMARANG",
    "YOG": "KANTOR IMIGRASI KELAS I TPI YOGYAKARTA",
    "SBY": "KANTOR IMIGRASI KELAS I KHUSUS TPI SURABAYA",
    "MDN": "KANTOR IMIGRASI KELAS I KHUSUS TPI MEDAN",
    "DPS": "KANTOR IMIGRASI KELAS I KHUSUS TPI DENPASAR",
    "MKS": "KANTOR IMIGRASI KELAS I KHUSUS TPI MAKASSAR",
}
"""The immigration offices (kantor imigrasi, kanim) that take passport appointments through this service, by the
code `kodeKanim` names: the schema's enum, and the list the simulator checks."""

PASSPORT_APPLICATION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Permohonan paspor (passport application with an appointment at an immigration office)",
    "type": "object",
    "additionalProperties": False,
    "required": ["nik", "namaLengkap", "tanggalLahir", "jenisPaspor", "kodeKanim", "tanggalKedatangan", "tujuan"],
    "properties": {
        "nik": {"type": "string", "pattern": "^[0-9]{16}$", "maxLength": 16, "description": "The applicant's NIK"},
        "namaLengkap": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "description": "Full name exactly as Dukcapil holds it",
        },
        "tanggalLahir": {
            "type": "string",
            "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "maxLength": 10,
            "description": "Birth date as Dukcapil holds it",
        },
        "jenisPaspor": {
            "type": "string",
            "enum": ["BIASA", "ELEKTRONIK"],
            "description": "BIASA: ordinary passport; ELEKTRONIK: e-passport (chip)",
        },
        "kodeKanim": {
            "type": "string",
            "enum": list(KANTOR_IMIGRASI),
            "description": "Immigration office of the appointment: "
            + "; ".join(f"{code} {name}" for code, name in KANTOR_IMIGRASI.items()),
        },
        "tanggalKedatangan": {
            "type": "string",
            "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "maxLength": 10,
            "description": "Appointment date (a working day within 60 days)",
        },
        "tujuan": {
            "type": "string",
            "enum": ["WISATA", "UMROH", "HAJI", "BEKERJA", "BELAJAR", "KUNJUNGAN KELUARGA", "BISNIS", "BEROBAT"],
            "description": "Purpose of travel",
        },
    },
    "examples": [
        {
            "nik": "3603282512770002",
            "namaLengkap": "DENI SOBANDI",
            "tanggalLahir": "1977-12-25",
            "jenisPaspor": "ELEKTRONIK",
            "kodeKanim": "TNG",
            "tanggalKedatangan": working_day(14).isoformat(),
            "tujuan": "WISATA",
        }
    ],
}


class ImigrasiClient(SoapConnector):
    name = AGENCY
    ping_operation = "CekKoneksi"
    services = {SERVICE_APPLICATION: PASSPORT_APPLICATION_SCHEMA}

    async def submit(self, service: str, payload: Mapping[str, Any], idempotency_key: str) -> SubmitResult:
        check_payload(AGENCY, self.services, service, payload)
        reply = plain(await self.session.call("PermohonanPaspor", idTransaksi=idempotency_key, **payload))
        reference = reply.get("nomorPermohonan")
        if reply.get("kodeRespon") != "00" or not reference:
            raise AgencyProtocolError(AGENCY, "application reply without a reference", code=reply.get("kodeRespon"))
        return SubmitResult(agency=AGENCY, reference=reference, detail=reply)


def create(config: Mapping[str, str]) -> ImigrasiClient:
    """A client from its settings (`GERBANG_AGENCY_IMIGRASI_*`)."""
    contract = LookupContract(
        AGENCY, config, operation="CariPasporByNIK", health_operation="CekKoneksi", lists={"daftarPaspor": "paspor"}
    )
    return open_soap_client(ImigrasiClient, config, wsdl=WSDL, binding=BINDING, contract=contract)
