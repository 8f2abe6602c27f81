"""Client of the Imigrasi passport web service (SOAP 1.1 + WS-Security UsernameToken), our own protocol design.

No public specification exists: the WSDL packaged next to this module (`service.wsdl`) is **Gerbang's adapter
contract**, not the agency's published interface. Its settings, and how a deployment points the connector at
the agency's own WSDL instead, are those of every SOAP connector: see `connectors.soap_connector`.

- `lookup(nik)` calls `CariPasporByNIK`: kodeRespon 00 → ok with fields {kodeRespon, pesan, pemilik{namaLengkap,
  tempatLahir, tanggalLahir, jenisKelamin}, daftarPaspor: [{nomorPaspor, jenis, tanggalTerbit, tanggalHabisBerlaku,
  kantorImigrasi, status}]} (newest first, dates as ISO text); 01 → not_found.
- `submit("passport_application", payload, key)` calls `PermohonanPaspor` with the key as `idTransaksi`; the
  reply's billing code must be paid within two hours. Refusals (NIK unknown to Dukcapil, name or birth date not
  Dukcapil's, quota full) are Client faults → AgencyRejected.
- `health()` calls `CekKoneksi`.
"""

from __future__ import annotations

from pathlib import Path

from connectors.base import payload_schema
from connectors.examples import working_day
from connectors.soap_connector import LookupContract, SoapConnector, SoapSubmission

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

PASSPORT_APPLICATION_SCHEMA = payload_schema(
    "Permohonan paspor (passport application with an appointment at an immigration office)",
    ["nik", "namaLengkap", "tanggalLahir", "jenisPaspor", "kodeKanim", "tanggalKedatangan", "tujuan"],
    properties={
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
    examples=[
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
)


APPLICATION = SoapSubmission(
    "PermohonanPaspor", PASSPORT_APPLICATION_SCHEMA, "nomorPermohonan", key_element="idTransaksi", noun="application"
)


class ImigrasiClient(SoapConnector):
    name, wsdl, binding = AGENCY, WSDL, BINDING
    contract = LookupContract("CariPasporByNIK", health_operation="CekKoneksi", lists={"daftarPaspor": "paspor"})
    submissions = {SERVICE_APPLICATION: APPLICATION}


create = ImigrasiClient.from_settings  # settings: GERBANG_AGENCY_IMIGRASI_*
