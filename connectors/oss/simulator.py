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
import hashlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
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
from connectors.oss.codes import LICENCE_KINDS, LICENCE_STATUSES, NIB_ACTIVE
from connectors.oss.datanib import blank_data_nib
from connectors.oss.push import TOKEN_HEADER, WIB, push_token
from connectors.simkit.control import SimControl, install

if TYPE_CHECKING:
    from connectors.simkit.population import Person, Population

DEFAULT_USER_KEY = "oss-demo-user-key"
DEFAULT_PUSH_USER = "oss-push"  # what OSS signs its pushes with (Token recipe, connectors/oss/push.py)
DEFAULT_PUSH_PASSWORD = "oss-push-demo-password"
OWNER_SHARE = 0.30
VARIANT_SHARE = 0.05
OSS_START = dt.date(2018, 7, 9)  # OSS launched; no NIB is older
DATA_END = dt.date(2024, 12, 31)  # fixed, so the data does not drift with the calendar

ReplyStyle = Literal["guide", "camel", "inquiry", "upper"]
REPLY_STYLES: dict[str, Callable[[str], str]] = {
    "guide": lambda method: f"respon{method}",
    "camel": lambda method: f"respon{method[:1].upper()}{method[1:]}",
    "inquiry": lambda method: f"respon{method.replace('inquery', 'inquiry')}",
    "upper": lambda method: f"respon{method}".upper(),
}

# Codes as the guide's appendices define them (connectors/oss/codes.py); the weights are made up.
SCALES = (("01", 0.65), ("02", 0.20), ("03", 0.10), ("04", 0.05))  # Lampiran 31: micro … large
STATUSES = (("01", 0.85), ("02", 0.04), ("03", 0.03), ("04", 0.03), ("05", 0.02), ("06", 0.03))  # Lampiran 14
ACTORS = (("02", 0.80), ("01", 0.19), ("03", 0.01))  # Lampiran 18: 02 perseorangan, 01 badan usaha, 03 perwakilan
# Licences a kabupaten/kota processes (kd_izin, jenis_izin (Lampiran 27), name). The first is the evidence
# fixture's; the others are made up in its shape.
LICENCES = (
    ("059000000214", "04", "SERTIFIKAT STANDAR USAHA MAKANAN"),
    ("059000000301", "02", "IZIN USAHA TOKO SWALAYAN"),
    ("059000000117", "04", "SERTIFIKAT STANDAR USAHA JASA BOGA"),
)
_SPELLINGS = (
    ("OE", "U"),
    ("U", "OE"),
    ("DJ", "J"),
    ("TJ", "C"),
    ("C", "TJ"),
    ("Y", "I"),
    ("MUHAMMAD", "MOHAMAD"),
    ("NUR", "NOER"),
    ("KH", "H"),
)
OK_TEXT = "Sukses"
PARAMETER_TEXT = "Data Parameter Salah"  # Lampiran 9, 400
NIB_NOT_FOUND = "Data NIB tidak ditemukan"  # guide's inqueryNIB error example
IZIN_NOT_FOUND = "Data izin tidak ditemukan"  # guide's receiveLicenseStatus error example


@dataclass(frozen=True)
class OssLicence:
    """One licence OSS hands a region to process (a data_checklist item)."""

    id_izin: str
    kd_izin: str
    jenis_izin: str
    nama_izin: str
    kd_daerah: str


@dataclass(frozen=True)
class OssNib:
    """One NIB as OSS stores it (codes as OSS sends them)."""

    nib: str
    issued: dt.date
    oss_id: str
    actor: str
    scale: str
    status: str
    npp: str | None
    va: str | None
    licences: tuple[OssLicence, ...] = ()


@dataclass(frozen=True)
class OssOwner:
    """A business holder as OSS holds them: possibly another spelling of the name than Dukcapil's."""

    nik: str
    name: str
    birth_date: dt.date
    sex: str
    region: str
    nibs: tuple[OssNib, ...]


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([code for code, _ in weighted], [w for _, w in weighted])[0]


def _digits(rng: random.Random, count: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(count))


def old_spelling(name: str, rng: random.Random) -> str:
    """The name in another (often pre-1972) spelling; always different from `name`."""
    options = [(old, new) for old, new in _SPELLINGS if old in name]
    if options:
        old, new = rng.choice(options)
        respelled = name.replace(old, new, 1)
        if respelled != name:
            return respelled
    words = name.split()
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    words[longest] += words[longest][-1]  # a doubled last letter: SANTOSO → SANTOSOO
    return " ".join(words)


def owner_of(population: Population, person: Person) -> OssOwner | None:
    """What OSS holds about `person`, or None if they hold no NIB (deterministic per seed and person)."""
    rng = population.rng(person, "oss")
    adult_from = max(OSS_START, _add_years(person.birth_date, 18))
    if rng.random() >= OWNER_SHARE or adult_from > DATA_END:
        return None
    name = old_spelling(person.name, rng) if rng.random() < VARIANT_SHARE else person.name
    count = rng.choices((1, 2, 3), (0.80, 0.15, 0.05))[0]
    region = f"{person.nik[:6]}0000"  # kd_daerah: province, regency, district of the holder's NIK
    nibs = tuple(_nib(rng, person.index, k, adult_from, region) for k in range(count))
    return OssOwner(nik=person.nik, name=name, birth_date=person.birth_date, sex=person.sex, region=region, nibs=nibs)


def _nib(rng: random.Random, index: int, k: int, earliest: dt.date, region: str) -> OssNib:
    issued = earliest + dt.timedelta(days=rng.randrange((DATA_END - earliest).days + 1))
    scale = _pick(rng, SCALES)
    registered = scale != "01" or rng.random() < 0.4  # most micro businesses have no BPJS employer account
    nib = f"9{_digits(rng, 5)}{index % 1_000_000:06d}{k}"  # unique per person and rank: 13 digits
    return OssNib(
        nib=nib,
        issued=issued,
        oss_id=f"P-{issued:%Y%m%d}{_digits(rng, 13)}",
        actor=_pick(rng, ACTORS) if scale in ("01", "02") else rng.choice(("01", "01", "01", "03")),
        scale=scale,
        status=_pick(rng, STATUSES),
        npp=_digits(rng, 8) if registered else None,
        va=_digits(rng, 8) if registered else None,
        licences=licences_of(nib, issued, region),
    )


def licences_of(nib: str, issued: dt.date, region: str) -> tuple[OssLicence, ...]:
    """One or two licences to process, derived from the NIB alone (so the draws above stay as they were)."""
    digest = hashlib.sha256(f"oss-licences:{nib}".encode()).hexdigest()
    count = 1 + int(digest[0], 16) % 2
    found = []
    for k in range(count):
        kd_izin, jenis, nama = LICENCES[(int(digest[1 + k], 16) + k) % len(LICENCES)]
        serial = int(digest[4 + 12 * k : 16 + 12 * k], 16) % 10**13
        found.append(
            OssLicence(
                id_izin=f"I-{issued:%Y%m%d}{serial:013d}",
                kd_izin=kd_izin,
                jenis_izin=jenis,
                nama_izin=nama,
                kd_daerah=region,
            )
        )
    return tuple(found)


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def checklist_item(licence: OssLicence) -> dict[str, Any]:
    """A data_checklist item of receiveNIB, with the keys of the guide's example."""
    return {
        "id_produk": "",
        "id_proyek": "",
        "id_izin": licence.id_izin,
        "jenis_izin": licence.jenis_izin,
        "kd_izin": licence.kd_izin,
        "kd_daerah": licence.kd_daerah,
        "nama_izin": licence.nama_izin,
        "instansi": "",
        "id_bidang_spesifik": "",
        "bidang_spesifik": "",
        "id_kewenangan": "",
        "parameter_kewenangan": "",
        "kewenangan": "02",
        "flag_checklist": "Y",
        "flag_transaksional": "",
        "kbli_konversi": "",
        "flag_perpanjangan": "",
        "no_izin": "",
        "tgl_izin": "",
        "file_izin": "",
        "kd_dokumen": "",
        "nm_dokumen": "",
        "data_persyaratan": [
            {"id_syarat": "", "no_dokumen": "", "tgl_dokumen": "", "file_dokumen": "", "keterangan": ""}
        ],
    }


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


def evidence_holder() -> OssOwner:
    """The holder of the evidence's fixtures (agency-evidence/fixtures/oss, made-up values): NIB 0220205481936 with
    licence I-202502200921407719340, so the schema examples and the fixtures name a licence the simulator knows."""
    licence = OssLicence(
        id_izin="I-202502200921407719340",
        kd_izin="059000000214",
        jenis_izin="04",
        nama_izin="SERTIFIKAT STANDAR USAHA MAKANAN",
        kd_daerah="3374030000",
    )
    nib = OssNib(
        nib="0220205481936",
        issued=dt.date(2025, 2, 20),
        oss_id="P-202502200915334471208",
        actor="02",
        scale="01",
        status=NIB_ACTIVE,
        npp=None,
        va=None,
        licences=(licence,),
    )
    return OssOwner(
        nik="3374032307780011",
        name="DWI HARYANTO",
        birth_date=dt.date(1978, 7, 23),
        sex="L",
        region="3374030000",
        nibs=(nib,),
    )


class OssState:
    """The simulator's data: holders by NIK, NIBs, licences by id_izin (built once), and what the region sent."""

    def __init__(self, population: Population):
        self.owners: dict[str, OssOwner] = {}
        self.by_nib: dict[str, tuple[OssOwner, OssNib]] = {}
        self.licences: dict[str, tuple[OssNib, OssLicence]] = {}
        for person in population.people:
            owner = owner_of(population, person)
            if owner is None:
                continue
            self.owners[person.nik] = owner
            for nib in owner.nibs:
                self.by_nib[nib.nib] = (owner, nib)
                self.licences.update({licence.id_izin: (nib, licence) for licence in nib.licences})
        evidence = evidence_holder()  # not among `owners`: not a person of the population
        for nib in evidence.nibs:
            self.by_nib[nib.nib] = (evidence, nib)
            self.licences.update({licence.id_izin: (nib, licence) for licence in nib.licences})
        self.statuses: dict[str, list[dict[str, Any]]] = {}  # id_izin → IZINSTATUS objects received
        self.finals: dict[str, dict[str, Any]] = {}  # id_izin → IZINFINAL received


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
        day = dt.date.fromisoformat(order["day"]) if order.get("day") else dt.datetime.now(WIB).date()
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


def active_licences(state: OssState) -> list[tuple[OssOwner, OssNib, OssLicence]]:
    """Every licence of an active NIB (status 01), in a stable order: what tests and the demo decide on."""
    return [
        (owner, nib, licence)
        for owner in state.owners.values()
        for nib in owner.nibs
        if nib.status == NIB_ACTIVE
        for licence in nib.licences
    ]


def decision(
    owner: OssOwner, nib: OssNib, licence: OssLicence, kd_status: str = "50", at: dt.datetime | None = None
) -> dict[str, Any]:
    """A `license_status` payload the simulator accepts: the region's decision on `licence` (the IZINSTATUS
    fields, plus the holder's `nik`, Gerbang's own, which the client does not send)."""
    when = (at or dt.datetime.now(WIB)).astimezone(WIB)
    return {
        "nik": owner.nik,
        "nib": nib.nib,
        "oss_id": nib.oss_id,
        "id_izin": licence.id_izin,
        "kd_izin": licence.kd_izin,
        "kd_instansi": licence.kd_izin[:3],
        "kd_status": kd_status,
        "tgl_status": f"{when:%Y-%m-%d %H:%M:%S}",
        "nip_status": "198507142010011009",
        "nama_status": "PETUGAS VERIFIKASI",
        "keterangan": LICENCE_STATUSES[kd_status],
    }


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
