"""OSS RBA (Online Single Submission, Risk-Based Approach; Kementerian Investasi/BKPM), as a region meets it.

Guide: PIA v4.3.22 (`oss-rba/oss-rba.github.io`, commit 90fac4f). Directions (the guide's method table):
- OSS pushes to the region `receiveNIB` (`{"dataNIB": {…, "data_checklist": [licences to process]}}`, header
  `Token: SHA1(USERNAME+PASSWORD+NIB+Ymd)`), answered `{"responreceiveNIB": {"status": "1"|"2", "keterangan"}}`.
  Gerbang receives it through this connector's inbound hook (`connectors/oss/inbound.py`): each checklist item
  becomes an application-like record the region processes.
- The region calls OSS: `inqueryNIB` (a NIB's data), `receiveLicenseStatus` (`IZINSTATUS`: the region's decision
  on one id_izin) and `receiveLicense` (`IZINFINAL`: the issued licence), header `user_key`. The last two are this
  connector's submission services `license_status` and `license_final`, sent through the outbox like any
  submission.
- Code tables (Lampiran 4, 9, 10, 14, 18, 27, 31 …) are in `connectors/oss/codes.py`.
- OSS has no method listing a person's NIBs: see `connectors/oss/client.py` and docs/agencies.md (OSS).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.base import agency_plugin, lazy, payload_schema
from connectors.bpjs_kesehatan.facet import FACET as HEALTH_INSURANCE
from connectors.bpjs_ketenagakerjaan.facet import FACET as EMPLOYMENT_INSURANCE
from connectors.oss.client import SERVICE_FINAL, SERVICE_STATUS, OssClient, create
from connectors.oss.codes import LICENCE_KINDS, LICENCE_STATUSES
from connectors.oss.facet import FACET
from connectors.oss.inbound import INBOUND
from identity.model import ROOT_FACET

_TEXT = "^[^\\x00-\\x1f]*$"  # one line of text (no control characters)


def _string(max_length: int, description: str, pattern: str | None = _TEXT) -> dict[str, Any]:
    """A string with its length limit (the guide's, or a sane one where it says 65535) and, unless it is free
    text that may span lines (pattern None), a pattern."""
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length, "description": description}
    if pattern is not None:
        schema["pattern"] = pattern
    return schema


_ID = r"^[0-9A-Za-z_.\-]*$"
_STATUS_CODES = sorted(LICENCE_STATUSES)
_NIK = _string(
    16,
    "The licence holder's NIK (the application's; filled from the request when left out). Gerbang's "
    "own: OSS's IZINSTATUS/IZINFINAL carry no NIK, so it is not sent to OSS",
    "^[0-9]{16}$",
)

LICENCE_STATUS_SCHEMA = payload_schema(
    "OSS receiveLicenseStatus (IZINSTATUS): the region's decision on one licence OSS pushed",
    ["nib", "id_izin", "kd_izin", "kd_status", "tgl_status"],
    {
        "nik": _NIK,
        "nib": _string(13, "Nomor Induk Berusaha, 13 digits", "^[0-9]{13}$"),
        "id_produk": _string(25, "id_produk of the checklist item", _ID),
        "id_proyek": _string(25, "id_proyek of the checklist item", _ID),
        "oss_id": _string(25, "OSS id sent with the NIB", _ID),
        "id_izin": _string(
            25, "OSS's id of the licence application (from receiveNIB's data_checklist)", r"^[0-9A-Za-z_.\-]{1,25}$"
        ),
        "kd_izin": _string(12, "Licence code (Lampiran 8)", "^[0-9A-Za-z]{1,12}$"),
        "kd_instansi": _string(3, "Institution code", "^[0-9A-Za-z]{0,3}$"),
        "kd_status": {
            "type": "string",
            "enum": _STATUS_CODES,
            "maxLength": 2,
            "description": "Licence status (Lampiran 10): 50 Disetujui, 90 Ditolak, 93 Penolakan Persyaratan …",
        },
        "tgl_status": _string(
            19,
            "When the region decided, YYYY-MM-DD HH:MM:SS (WIB)",
            r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$",
        ),
        "nip_status": _string(50, "NIP of the deciding officer", "^[0-9A-Za-z .\\-]*$"),
        "nama_status": _string(50, "Name or role of the deciding officer"),
        "keterangan": _string(4000, "Reason or remark (free text, may span lines)", None),
        "file_lampiran": _string(2000, "Link to an attached PDF"),
        "persetujuan_form": {"type": "boolean", "description": "Form persetujuan"},
        "data_pnbp": {
            "type": "object",
            "additionalProperties": False,
            "description": "Non-tax state revenue (PNBP) billing",
            "properties": {
                "kd_akun": _string(20, "SIMPONI account code", "^[0-9A-Za-z]*$"),
                "kd_penerimaan": _string(20, "Revenue code", "^[0-9A-Za-z]*$"),
                "kd_billing": _string(50, "Billing code", "^[0-9A-Za-z]*$"),
                "tgl_billing": _string(10, "Billing date YYYY-MM-DD", "^([0-9]{4}-[0-9]{2}-[0-9]{2})?$"),
                "tgl_expire": _string(10, "Billing expiry YYYY-MM-DD", "^([0-9]{4}-[0-9]{2}-[0-9]{2})?$"),
                "nominal": _string(23, "Amount (rupiah)", r"^([0-9]{1,20}(\.[0-9]{1,2})?)?$"),
                "url_dokumen": _string(255, "URL of the SPS document"),
            },
        },
    },
    [
        {
            "nib": "0220205481936",
            "id_proyek": "R-202502200915339902",
            "oss_id": "P-202502200915334471208",
            "id_izin": "I-202502200921407719340",
            "kd_izin": "059000000214",
            "kd_instansi": "059",
            "kd_status": "90",
            "tgl_status": "2025-03-04 14:20:05",
            "nip_status": "198507142010011009",
            "nama_status": "PETUGAS VERIFIKASI",
            "keterangan": "Dokumen persyaratan tidak sesuai",
        }
    ],
)

LICENCE_FINAL_SCHEMA = payload_schema(
    "OSS receiveLicense (IZINFINAL): the licence the region issued",
    ["nib", "id_izin", "kd_izin", "tgl_terbit_izin", "status_izin"],
    {
        "nik": _NIK,
        "nib": _string(13, "Nomor Induk Berusaha, 13 digits", "^[0-9]{13}$"),
        "id_proyek": _string(25, "id_proyek", _ID),
        "oss_id": _string(25, "OSS id", _ID),
        "id_izin": _string(25, "OSS's id of the licence application", r"^[0-9A-Za-z_.\-]{1,25}$"),
        "kd_izin": _string(12, "Licence code (Lampiran 8)", "^[0-9A-Za-z]{1,12}$"),
        "kd_daerah": _string(10, "Region code (Permendagri 72/2019)", "^([0-9]{10})?$"),
        "nomor_izin": _string(50, "Licence number"),
        "tgl_terbit_izin": _string(10, "Issue date YYYY-MM-DD", "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
        "tgl_berlaku_izin": _string(10, "Valid until YYYY-MM-DD", "^([0-9]{4}-[0-9]{2}-[0-9]{2})?$"),
        "nama_ttd": _string(50, "Signatory"),
        "nip_ttd": _string(25, "Signatory's NIP", "^[0-9A-Za-z .\\-]*$"),
        "jabatan_ttd": _string(150, "Signatory's position"),
        "status_izin": {
            "type": "string",
            "enum": _STATUS_CODES,
            "maxLength": 2,
            "description": "Licence status (Lampiran 10)",
        },
        "file_izin": _string(2000, "Link to the licence PDF"),
        "keterangan": _string(4000, "Remark (free text, may span lines)", None),
        "file_lampiran": _string(2000, "Link to an attachment"),
        "nomenklatur_nomor_izin": _string(255, "Numbering scheme of the licence number"),
        "bln_berlaku_izin": {"type": "integer", "minimum": 0, "maximum": 99999},
        "thn_berlaku_izin": {"type": "integer", "minimum": 0, "maximum": 99999},
        "jenis_perizinan": {
            "type": "string",
            "enum": sorted(LICENCE_KINDS),
            "maxLength": 3,
            "description": "Licence kind (Lampiran 27)",
        },
    },
    [
        {
            "nib": "0220205481936",
            "id_izin": "I-202502200921407719340",
            "kd_izin": "059000000214",
            "kd_daerah": "3374030000",
            "nomor_izin": "503/0123/SS/2025",
            "tgl_terbit_izin": "2025-03-06",
            "status_izin": "50",
            "jenis_perizinan": "04",
        }
    ],
)


def decided_licence(service: str, payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """A decision (`license_status`, `license_final`) is about the licence receiveNIB pushed: (NIB, id_izin)."""
    if service not in (SERVICE_STATUS, SERVICE_FINAL):
        return None
    nib, id_izin = payload.get("nib"), payload.get("id_izin")
    return (nib, id_izin) if isinstance(nib, str) and isinstance(id_izin, str) else None


PURPOSES = {
    "business_licensing": {
        "title": "Business licensing (OSS)",  # a licence needs the owner's social-security accounts too
        "facets": [ROOT_FACET, FACET, EMPLOYMENT_INSURANCE, HEALTH_INSURANCE],
    }
}
PLUGIN = agency_plugin(
    __name__,
    "OSS RBA (business licensing)",
    FACET,
    create,
    services={SERVICE_STATUS: LICENCE_STATUS_SCHEMA, SERVICE_FINAL: LICENCE_FINAL_SCHEMA},
    purposes=PURPOSES,
    inbound=INBOUND,
    decides=decided_licence,
    demo=lazy("connectors.oss.demo", "tour"),
)

__all__ = ["PLUGIN", "OssClient", "LICENCE_STATUS_SCHEMA", "LICENCE_FINAL_SCHEMA"]
