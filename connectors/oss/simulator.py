"""A simulator of OSS RBA as a region meets it (guide v4.3.22; see docs/agencies.md (OSS) for what is confirmed).

It answers what the region calls — `inqueryNIB`, `receiveLicenseStatus` (IZINSTATUS), `receiveLicense` (IZINFINAL)
— with the guide's shapes and messages, and it *pushes* `receiveNIB` to a region (`POST /_sim/push`) with OSS's
Token, the way OSS hands a region the licences it must process.

Data is derived per person from the synthetic population with `population.rng(person, "oss")`: about 30 % of
adults hold one to three NIBs; about 5 % of holders are spelled differently in OSS (old spelling: OE/U, DJ/J, TJ/C,
Y/I), so the record's conflict report has something to show. Each NIB has one or two licences to process
(`data_checklist` items, id_izin derived from the NIB). The same seed always gives the same data.

Extension, NOT in the guide: `xInqueryNIBByNIK` (`{"XINQUERYNIBBYNIK": {"nik"}}` → `dataNIB` as a list), so the demo
and the tests can show a business facet; OSS itself has no method listing a person's NIBs.

Options: `user_key` (the key OSS accepts), `reply_style` — how the reply object is named, to exercise the client's
tolerance of the guide's own inconsistency: "guide" `responinqueryNIB`, "camel" `responInqueryNIB`, "inquiry"
`responinquiryNIB`, "upper" `RESPONINQUERYNIB`; `kode_as_text` sends `"kode": "200"` (the guide documents string(3)).
Every reply, errors included, is HTTP 200 with the outcome in `kode` (Lampiran 9).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from connectors.oss.client import (
    IDEMPOTENCY_HEADER,
    METHOD_FINAL,
    METHOD_NIB,
    METHOD_NIB_BY_NIK_EXT,
    METHOD_STATUS,
    USER_KEY_HEADER,
    wrapper,
)
from connectors.oss.codes import LICENCE_KINDS, LICENCE_STATUSES
from connectors.oss.datanib import blank_checklist_item, blank_data_nib
from connectors.oss.push import TOKEN_HEADER, push_token
from connectors.oss.simdata import OssLicence, OssNib, OssOwner, OssState, active_licences, decision
from connectors.simkit.control import SimControl, install
from identity.clock import today_wib

if TYPE_CHECKING:
    from connectors.simkit.population import Population

DEFAULT_USER_KEY = "oss-demo-user-key"
DEFAULT_PUSH_USER = "oss-push"  # what OSS signs its pushes with (Token recipe, connectors/oss/push.py)
DEFAULT_PUSH_PASSWORD = "oss-push-demo-password"

ReplyStyle = Literal["guide", "camel", "inquiry", "upper"]
REPLY_STYLES: dict[str, Callable[[str], str]] = {
    "guide": lambda method: f"respon{method}",
    "camel": lambda method: f"respon{method[:1].upper()}{method[1:]}",
    "inquiry": lambda method: f"respon{method.replace('inquery', 'inquiry')}",
    "upper": lambda method: f"respon{method}".upper(),
}

OK_TEXT = "Sukses"
PARAMETER_TEXT = "Data Parameter Salah"  # Lampiran 9, 400
NIB_NOT_FOUND = "Data NIB tidak ditemukan"  # guide's inqueryNIB error example
IZIN_NOT_FOUND = "Data izin tidak ditemukan"  # guide's receiveLicenseStatus error example


def checklist_item(licence: OssLicence) -> dict[str, Any]:
    """A data_checklist item of receiveNIB, with the keys of the guide's example (its blank item's, without the
    halal product data a food licence's checklist leaves out)."""
    item = {key: value for key, value in blank_checklist_item().items() if key != "data_produk_halal"}
    item.update(
        id_izin=licence.id_izin,
        jenis_izin=licence.jenis_izin,
        kd_izin=licence.kd_izin,
        kd_daerah=licence.kd_daerah,
        nama_izin=licence.nama_izin,
        kewenangan="02",
        flag_checklist="Y",
    )
    return item


def data_nib(owner: OssOwner, nib: OssNib, *, pushed: bool = False) -> dict[str, Any]:
    """One dataNIB with the guide's full key set; the holder in the `*_user_proses` fields. `pushed` adds what a
    receiveNIB carries on top (id_izin, kd_izin, kd_daerah, kewenangan of the first licence)."""
    data = blank_data_nib()
    data.update(
        {
            "nib": nib.nib,
            "tgl_pengajuan_nib": nib.issued.isoformat(),
            "tgl_terbit_nib": nib.issued.isoformat(),
            "tgl_perubahan_nib": nib.issued.isoformat(),
            "oss_id": nib.oss_id,
            "jenis_pelaku_usaha": nib.actor,
            "skala_usaha": nib.scale,
            "status_nib": nib.status,
            "no_npp": nib.npp or "",
            "no_va": nib.va or "",
            "flag_umk": "Y" if nib.scale in ("01", "02") else "N",
            "flag_perusahaan": "Y",
            "flag_ekspor": "N",
            "flag_impor": "N",
            "versi_pia": "4.3",
            "tipe_dokumen": "9",
            "nama_perseroan": f"CV {owner.name.split()[0]} {nib.nib[-4:]}" if nib.actor != "02" else "",
            "jenis_id_user_proses": "01",
            "no_id_user_proses": owner.nik,
            "nama_user_proses": owner.name,
            "jns_kelamin_user_proses": owner.sex,
            "tgl_lahir_user_proses": owner.birth_date.isoformat(),
            "daerah_id_user_proses": owner.region,
            "data_checklist": [checklist_item(licence) for licence in nib.licences],
        }
    )
    if pushed and nib.licences:
        first = nib.licences[0]
        data.update(
            {"id_izin": first.id_izin, "kd_izin": first.kd_izin, "kd_daerah": first.kd_daerah, "kewenangan": "02"}
        )
    else:
        for key in ("id_izin", "kd_izin", "kd_daerah", "kewenangan", "flag_perubahan_data_teknis"):  # receiveNIB only
            data.pop(key, None)
    return data


class Refusal(Exception):
    """An OSS error reply: kode, keterangan and the rest of the reply object."""

    def __init__(self, kode: int, keterangan: str, **data: Any):
        super().__init__(keterangan)
        self.kode, self.keterangan, self.data = kode, keterangan, data


def _need(params: dict[str, Any], key: str, pattern: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise Refusal(400, PARAMETER_TEXT)
    return value


def _inquery_nib(state: OssState, params: dict[str, Any], request: Request) -> dict[str, Any]:
    nib = _need(params, "nib", r"[0-9]{13}")
    found = state.by_nib.get(nib)
    if found is None:
        raise Refusal(400, NIB_NOT_FOUND, dataNIB=[])
    return {"keterangan": "", "dataNIB": data_nib(*found)}


def _by_nik_extension(state: OssState, params: dict[str, Any], request: Request) -> dict[str, Any]:
    nik = _need(params, "nik", r"[0-9]{16}")
    owner = state.owners.get(nik)
    if owner is None:
        raise Refusal(400, NIB_NOT_FOUND, dataNIB=[])
    return {"keterangan": "", "dataNIB": [data_nib(owner, nib) for nib in owner.nibs]}


def _licence_of(state: OssState, params: dict[str, Any]) -> OssLicence:
    """The licence an IZINSTATUS/IZINFINAL names, which must belong to the NIB it names."""
    nib = _need(params, "nib", r"[0-9]{13}")
    id_izin = _need(params, "id_izin", r"[0-9A-Za-z_.\-]{1,25}")
    found = state.licences.get(id_izin)
    if found is None or found[0].nib != nib:
        raise Refusal(400, IZIN_NOT_FOUND, dataNIB={})
    _need(params, "kd_izin", r"[0-9A-Za-z]{1,12}")
    return found[1]


def _count(request: Request, params: dict[str, Any], status_key: str) -> None:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()[:200]
    request.app.state.control.record_submission(key or f"{params.get('id_izin')}/{params.get(status_key)}")


def _receive_status(state: OssState, params: dict[str, Any], request: Request) -> dict[str, Any]:
    _count(request, params, "kd_status")
    _licence_of(state, params)
    if params.get("kd_status") not in LICENCE_STATUSES:
        raise Refusal(400, PARAMETER_TEXT, dataNIB={})
    _need(params, "tgl_status", r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
    state.statuses.setdefault(params["id_izin"], []).append(dict(params))
    return {"keterangan": OK_TEXT, "dataNIB": {}}


def _receive_final(state: OssState, params: dict[str, Any], request: Request) -> dict[str, Any]:
    _count(request, params, "status_izin")
    licence = _licence_of(state, params)
    if params.get("status_izin") not in LICENCE_STATUSES:
        raise Refusal(400, PARAMETER_TEXT)
    _need(params, "tgl_terbit_izin", r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
    state.finals[params["id_izin"]] = dict(params)
    number = params.get("nomor_izin") or f"{licence.kd_izin[:3]}/{licence.id_izin[-6:]}/OSS"
    kind = params.get("jenis_perizinan") if params.get("jenis_perizinan") in LICENCE_KINDS else licence.jenis_izin
    return {"keterangan": "", "nomor_izin": number, "jenis_perizinan": kind, "file_lampiran": ""}


Handler = Callable[[OssState, dict[str, Any], Request], dict[str, Any]]
METHODS: dict[str, Handler] = {
    METHOD_NIB: _inquery_nib,
    METHOD_STATUS: _receive_status,
    METHOD_FINAL: _receive_final,
    METHOD_NIB_BY_NIK_EXT: _by_nik_extension,
}


def push_body(state: OssState, nib: str) -> dict[str, Any]:
    """The receiveNIB body OSS would push for `nib` (KeyError if the simulator holds no such NIB)."""
    owner, record = state.by_nib[nib]
    return {"dataNIB": data_nib(owner, record, pushed=True)}


def simulator(
    population: Population,
    *,
    user_key: str = DEFAULT_USER_KEY,
    reply_style: ReplyStyle = "guide",
    kode_as_text: bool = False,
) -> FastAPI:
    """An OSS RBA simulator over `population` as a FastAPI app (`app.state.control` drives its faults)."""
    if reply_style not in REPLY_STYLES:
        raise ValueError(f"reply_style must be one of {', '.join(REPLY_STYLES)}")
    name_of = REPLY_STYLES[reply_style]
    state = OssState(population)
    app = FastAPI(title="OSS RBA simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.control = SimControl()
    app.state.oss = state

    def reply(method: str, kode: int, keterangan: str = "", **data: Any) -> JSONResponse:
        inner: dict[str, Any] = {"kode": str(kode) if kode_as_text else kode, "keterangan": keterangan}
        inner.update(data)
        return JSONResponse({name_of(method): inner})

    def method_of(request: Request) -> str:
        return request.url.path.rstrip("/").rsplit("/", 1)[-1] or "unknown"

    def error_reply(request: Request) -> JSONResponse:
        return reply(method_of(request), 500, "Proses Payload Data Di Sistem OSS Gagal")

    install(
        app,
        app.state.control,
        error_reply=error_reply,
        garbage_body=b'{"responinqueryNIB": {"kode": 200, "dataNIB": {"nib": "91',
    )

    @app.post("/v1/kl/rba/{method}")
    async def rba(method: str, request: Request) -> JSONResponse:
        if request.headers.get(USER_KEY_HEADER) != user_key:
            return reply(method, 401, "User Akses Tidak Valid")
        handler = METHODS.get(method)
        if handler is None:
            return reply(method, 404, "Akses Service Tidak Ditemukan")
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return reply(method, 400, PARAMETER_TEXT)
        params = body.get(wrapper(method)) if isinstance(body, dict) else None
        if not isinstance(params, dict):
            return reply(method, 400, PARAMETER_TEXT)
        try:
            answer = handler(state, params, request)
        except Refusal as refusal:
            return reply(method, refusal.kode, refusal.keterangan, **refusal.data)
        return reply(method, 200, **answer)

    @app.post("/_sim/push", include_in_schema=False)
    async def push(request: Request) -> JSONResponse:
        """Make OSS push receiveNIB: `{"url", "nib", "token_nib"?, "token"?, "day"?, "body"?}` → POSTs the NIB's
        dataNIB (or `body`) to `url` with OSS's Token for `token_nib` (default: the NIB) on `day` (default: today,
        WIB), or the given `token`; answers the HTTP status, the reply, and what was sent."""
        order = await request.json()
        nib = order["nib"]
        sent = order.get("body") or push_body(state, nib)
        day = dt.date.fromisoformat(order["day"]) if order.get("day") else today_wib()
        token = order.get("token") or push_token(
            DEFAULT_PUSH_USER, DEFAULT_PUSH_PASSWORD, order.get("token_nib") or nib, day
        )
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            answer = await client.post(order["url"], json=sent, headers={TOKEN_HEADER: token})
        try:
            reply_body: Any = answer.json()
        except ValueError:
            reply_body = answer.text
        return JSONResponse({"status_code": answer.status_code, "reply": reply_body, "sent": sent})

    @app.get("/_sim/oss/received", include_in_schema=False)
    async def received() -> dict[str, Any]:
        """What the region sent: IZINSTATUS objects and IZINFINAL per id_izin."""
        return {"statuses": state.statuses, "finals": state.finals}

    return app


def sim_config(base_url: str) -> dict[str, str]:
    """Client settings that reach a simulator at `base_url` with its default demo key, its by-NIK extension (so
    the demo shows a business facet), and the credentials its pushes are signed with (checked by Gerbang's
    inbound route)."""
    return {
        "url": base_url,
        "user_key": DEFAULT_USER_KEY,
        "nik_method": METHOD_NIB_BY_NIK_EXT,
        "push_user": DEFAULT_PUSH_USER,
        "push_password": DEFAULT_PUSH_PASSWORD,
    }


def contract_samples(population: Population) -> dict[str, Any]:
    """What the contract kit (connectors/contract) asks this simulator:a holder with an active NIB and a decision on one
    of its licences."""
    for owner, nib, licence in active_licences(OssState(population)):
        return {"found": owner.nik, "service": "license_status", "payload": decision(owner, nib, licence)}
    raise LookupError("no OSS holder with an active NIB")
