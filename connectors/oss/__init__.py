"""OSS RBA (Online Single Submission, Risk-Based Approach, BKPM / Kementerian Investasi): business identity numbers
(NIB) a person owns, and licence applications.

From the public OSS RBA integration guide:
- every method is `POST /v1/kl/rba/{method}`; the caller sends the header `user_key`;
- request bodies wrap the parameters in an upper-case object named after the method (`{"INQUERYNIB": {"nib": …}}`);
- replies wrap the answer in `respon<method>` (`{"responinqueryNIB": {"kode": 200, "keterangan": "", "dataNIB":
  {…}}}`), a name the guide itself spells several ways (`responInqueryNIB`, `responinquiryNIB`): the client
  accepts any key starting with "respon";
- `dataNIB` fields nib (13 digits), tgl_terbit_nib, oss_id, jenis_pelaku_usaha, skala_usaha (01 micro … 04 large),
  status_nib (01 active … 06 revoked), no_npp (BPJS Ketenagakerjaan), no_va (BPJS Kesehatan);
- reply codes 200, 400 bad parameters, 401 invalid user access, 403 illegal access, 404 service not found,
  405 access refused, 500 payload failed, 504 timeout — carried in the body's `kode`;
- OSS's pushes to us carry `Token: SHA1(username + password + nib + Ymd)` (`connectors/oss/push.py`).

Designed here (the guide says nothing, or nothing public):
- HTTP status: OSS answers HTTP 200 for every reply that carries a `kode`, errors included; the client reads
  `kode`, and treats a bare HTTP 401/403 (a gateway refusing `user_key` before OSS sees it) as access denied;
- `inqueryNIBByNIK` (`{"INQUERYNIBBYNIK": {"nik": …}}`): the NIBs a NIK owns, `dataNIB` as a list, with the owner
  as OSS holds them (`nomor_identitas_user`, `nama_user`, `tgl_lahir_user`, `jenis_kelamin_user`); nothing owned is
  kode 200 with an empty list ("not found" is not one of the guide's codes: its 404 means *service* not found);
- the middle codes: status_nib 02 suspended (dibekukan), 03 inactive, 04 being amended, 05 cancelled
  (dibatalkan); jenis_pelaku_usaha 01 individual (orang perseorangan), 02 business entity, 03 representative office;
- `sendPermohonanIzin` (`{"SENDPERMOHONANIZIN": {"nib", "kd_izin", "nik"?, "kbli"?, "uraian"?}}`) answering
  `dataIzin` {id_izin, nib, kd_izin, kd_status "10" received, tgl_status, keterangan}; business refusals (unknown
  or inactive NIB, NIB of someone else) are kode 400; the bus's idempotency key travels in the `Idempotency-Key`
  header and OSS answers the same id_izin to a repeated key.
"""

from __future__ import annotations

from typing import Any

from connectors.base import ConnectorPlugin, lazy
from connectors.oss.client import SERVICE_LICENCE, OssClient, create

LICENCE_APPLICATION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "OSS licence application (permohonan izin)",
    "type": "object",
    "additionalProperties": False,
    "required": ["nib", "kd_izin"],
    "properties": {
        "nib": {"type": "string", "pattern": "^[0-9]{13}$", "maxLength": 13, "description": "The applicant's NIB, 13 digits"},
        "kd_izin": {"type": "string", "pattern": "^[0-9A-Za-z_.-]{1,40}$", "maxLength": 40,
                    "description": "OSS licence code (kode izin)"},
        "nik": {"type": "string", "pattern": "^[0-9]{16}$", "maxLength": 16,
                "description": "The applicant; when given, OSS refuses a NIB that is not theirs"},
        "kbli": {"type": "string", "pattern": "^[0-9]{5}$", "maxLength": 5, "description": "KBLI business classification"},
        "uraian": {"type": "string", "maxLength": 500, "description": "Free-text description of the activity"},
    },
    "examples": [{"nib": "9874840000010", "kd_izin": "IZIN-PB-UMKU", "nik": "3603286803810021", "kbli": "47111",
                  "uraian": "Perdagangan eceran di minimarket"}],
}


PLUGIN = ConnectorPlugin(
    name="oss",
    title="OSS RBA (business licensing)",
    facet="business",
    mapping="oss",
    create=create,
    simulator=lazy("connectors.oss.simulator", "simulator"),
    sim_config=lazy("connectors.oss.simulator", "sim_config"),
    services={SERVICE_LICENCE: LICENCE_APPLICATION_SCHEMA},
    protocol="rest",
)

__all__ = ["PLUGIN", "OssClient", "LICENCE_APPLICATION_SCHEMA"]
