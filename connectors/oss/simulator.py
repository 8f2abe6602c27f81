"""A simulator of OSS RBA that speaks the client's protocol (see `connectors/oss/__init__.py` for what is taken
from the public guide and what is designed).

Data is derived per person from the synthetic population with `population.rng(person, "oss")`: about 30 % of
adults own one to three NIBs; about 5 % of owners are spelled differently in OSS (old spelling: OE/U, DJ/J, TJ/C,
Y/I), so the record's conflict report has something to show. The same seed always gives the same businesses.

Options: `user_key` (the key OSS accepts), `reply_style` — how the reply object is named, to exercise the client's
tolerance of the guide's own inconsistency: "guide" `responinqueryNIB`, "camel" `responInqueryNIB`, "inquiry"
`responinquiryNIB`, "upper" `RESPONINQUERYNIB`; `kode_as_text` sends `"kode": "200"` as some gateways do.
Every reply, errors included, is HTTP 200 with the outcome in `kode`.
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
    METHOD_LICENCE,
    METHOD_NIB,
    METHOD_NIB_BY_NIK,
    USER_KEY_HEADER,
    wrapper,
)
from connectors.oss.push import TOKEN_HEADER, push_token
from connectors.simkit.control import SimControl, install

if TYPE_CHECKING:
    from connectors.simkit.population import Person, Population

DEFAULT_USER_KEY = "oss-demo-user-key"
DEFAULT_PUSH_USER = "oss-push"            # what OSS signs its pushes with (Token recipe, connectors/oss/push.py)
DEFAULT_PUSH_PASSWORD = "oss-push-demo-password"
OWNER_SHARE = 0.30
VARIANT_SHARE = 0.05
OSS_START = dt.date(2018, 7, 9)     # OSS launched; no NIB is older
DATA_END = dt.date(2024, 12, 31)    # fixed, so the data does not drift with the calendar
WIB = dt.timezone(dt.timedelta(hours=7))

ReplyStyle = Literal["guide", "camel", "inquiry", "upper"]
REPLY_STYLES: dict[str, Callable[[str], str]] = {
    "guide": lambda method: f"respon{method}",
    "camel": lambda method: f"respon{method[:1].upper()}{method[1:]}",
    "inquiry": lambda method: f"respon{method.replace('inquery', 'inquiry')}",
    "upper": lambda method: f"respon{method}".upper(),
}

SCALES = (("01", 0.65), ("02", 0.20), ("03", 0.10), ("04", 0.05))           # micro, small, medium, large
STATUSES = (("01", 0.85), ("02", 0.03), ("03", 0.04), ("04", 0.03), ("05", 0.02), ("06", 0.03))
ACTORS = (("01", 0.80), ("02", 0.19), ("03", 0.01))    # perseorangan, badan usaha, kantor perwakilan
_SPELLINGS = (("OE", "U"), ("U", "OE"), ("DJ", "J"), ("TJ", "C"), ("C", "TJ"), ("Y", "I"), ("MUHAMMAD", "MOHAMAD"),
              ("NUR", "NOER"), ("KH", "H"))


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


@dataclass(frozen=True)
class OssOwner:
    """A business owner as OSS holds them: possibly another spelling of the name than Dukcapil's."""

    nik: str
    name: str
    birth_date: dt.date
    sex: str
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
    """What OSS holds about `person`, or None if they own no business (deterministic per seed and person)."""
    rng = population.rng(person, "oss")
    adult_from = max(OSS_START, _add_years(person.birth_date, 18))
    if rng.random() >= OWNER_SHARE or adult_from > DATA_END:
        return None
    name = old_spelling(person.name, rng) if rng.random() < VARIANT_SHARE else person.name
    count = rng.choices((1, 2, 3), (0.80, 0.15, 0.05))[0]
    nibs = tuple(_nib(rng, person.index, k, adult_from) for k in range(count))
    return OssOwner(nik=person.nik, name=name, birth_date=person.birth_date, sex=person.sex, nibs=nibs)


def _nib(rng: random.Random, index: int, k: int, earliest: dt.date) -> OssNib:
    issued = earliest + dt.timedelta(days=rng.randrange((DATA_END - earliest).days + 1))
    scale = _pick(rng, SCALES)
    registered = scale != "01" or rng.random() < 0.4  # most micro businesses have no BPJS employer account
    return OssNib(
        nib=f"9{_digits(rng, 5)}{index % 1_000_000:06d}{k}",   # unique per person and rank: 13 digits
        issued=issued,
        oss_id=f"P-{issued:%Y%m%d}{_digits(rng, 13)}",
        actor=_pick(rng, ACTORS) if scale in ("01", "02") else rng.choice(("02", "02", "02", "03")),
        scale=scale,
        status=_pick(rng, STATUSES),
        npp=_digits(rng, 8) if registered else None,
        va=_digits(rng, 8) if registered else None,
    )


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def data_nib(owner: OssOwner, nib: OssNib) -> dict[str, Any]:
    """One dataNIB object: the guide's fields plus the holder as OSS knows them."""
    return {
        "nib": nib.nib,
        "tgl_terbit_nib": nib.issued.isoformat(),
        "oss_id": nib.oss_id,
        "jenis_pelaku_usaha": nib.actor,
        "skala_usaha": nib.scale,
        "status_nib": nib.status,
        "no_npp": nib.npp,
        "no_va": nib.va,
        "jenis_identitas_user": "01",   # 01 = KTP (NIK)
        "nomor_identitas_user": owner.nik,
        "nama_user": owner.name,
    }


class OssState:
    """The simulator's data: owners by NIK and by NIB (built once), and applications by idempotency key."""

    def __init__(self, population: Population):
        self.owners: dict[str, OssOwner] = {}
        self.by_nib: dict[str, tuple[OssOwner, OssNib]] = {}
        for person in population.people:
            owner = owner_of(population, person)
            if owner is None:
                continue
            self.owners[person.nik] = owner
            self.by_nib.update({nib.nib: (owner, nib) for nib in owner.nibs})
        self.applications: dict[str, tuple[str, dict[str, Any]]] = {}


class Refusal(Exception):
    """An OSS error reply: kode and keterangan."""

    def __init__(self, kode: int, keterangan: str):
        super().__init__(keterangan)
        self.kode, self.keterangan = kode, keterangan


def _need(params: dict[str, Any], key: str, pattern: str, what: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise Refusal(400, f"Parameter {key} tidak valid ({what})")
    return value


def _inquery_nib(state: OssState, params: dict[str, Any], request: Request) -> dict[str, Any]:
    nib = _need(params, "nib", r"[0-9]{13}", "13 digit")
    found = state.by_nib.get(nib)
    if found is None:
        return {"keterangan": "Data NIB tidak ditemukan", "dataNIB": None}
    return {"dataNIB": data_nib(*found)}


def _inquery_by_nik(state: OssState, params: dict[str, Any], request: Request) -> dict[str, Any]:
    nik = _need(params, "nik", r"[0-9]{16}", "16 digit")
    owner = state.owners.get(nik)
    if owner is None:
        return {"keterangan": "Data NIB tidak ditemukan", "dataNIB": []}
    return {
        "jenis_identitas_user": "01",
        "nomor_identitas_user": owner.nik,
        "nama_user": owner.name,
        "tgl_lahir_user": owner.birth_date.isoformat(),
        "jenis_kelamin_user": owner.sex,
        "dataNIB": [data_nib(owner, nib) for nib in owner.nibs],
    }


def _send_permohonan(state: OssState, params: dict[str, Any], request: Request) -> dict[str, Any]:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if not key or len(key) > 200:
        raise Refusal(400, f"Header {IDEMPOTENCY_HEADER} wajib diisi")
    request.app.state.control.record_submission(key)
    fingerprint = json.dumps(params, sort_keys=True, ensure_ascii=True)
    if key in state.applications:
        seen, data = state.applications[key]
        if seen != fingerprint:
            raise Refusal(400, f"{IDEMPOTENCY_HEADER} sudah dipakai untuk permohonan lain")
        return {"keterangan": "Permohonan sudah diterima sebelumnya", "dataIzin": data}
    nib = _need(params, "nib", r"[0-9]{13}", "13 digit")
    kd_izin = _need(params, "kd_izin", r"[0-9A-Za-z_.-]{1,40}", "kode izin")
    found = state.by_nib.get(nib)
    if found is None:
        raise Refusal(400, "NIB tidak terdaftar")
    owner, record = found
    nik = params.get("nik")
    if nik is not None and nik != owner.nik:
        raise Refusal(400, "NIB bukan milik pemohon")
    if record.status != "01":
        raise Refusal(400, "Status NIB tidak aktif")
    digest = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    data = {
        "id_izin": f"I-{digest % 10**20:020d}",
        "nib": nib,
        "kd_izin": kd_izin,
        "kd_status": "10",   # designed: 10 = diajukan (received); OSS later pushes 50 approved / 90 rejected
        "tgl_status": dt.datetime.now(WIB).strftime("%Y-%m-%d %H:%M:%S"),
        "keterangan": "Permohonan diterima",
    }
    state.applications[key] = (fingerprint, data)
    return {"keterangan": "Permohonan diterima", "dataIzin": data}


Handler = Callable[[OssState, dict[str, Any], Request], dict[str, Any]]
METHODS: dict[str, Handler] = {
    METHOD_NIB: _inquery_nib,
    METHOD_NIB_BY_NIK: _inquery_by_nik,
    METHOD_LICENCE: _send_permohonan,
}


def simulator(population: Population, *, user_key: str = DEFAULT_USER_KEY, reply_style: ReplyStyle = "guide",
              kode_as_text: bool = False) -> FastAPI:
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
        return reply(method_of(request), 500, "Payload gagal diproses")

    install(app, app.state.control, error_reply=error_reply,
            garbage_body=b'{"responinqueryNIBByNIK": {"kode": 200, "dataNIB": [{"nib": "91')

    @app.post("/v1/kl/rba/{method}")
    async def rba(method: str, request: Request) -> JSONResponse:
        if request.headers.get(USER_KEY_HEADER) != user_key:
            return reply(method, 401, "Invalid user access")
        handler = METHODS.get(method)
        if handler is None:
            return reply(method, 404, "Service not found")
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return reply(method, 400, "Format request tidak valid")
        params = body.get(wrapper(method)) if isinstance(body, dict) else None
        if not isinstance(params, dict):
            return reply(method, 400, f"Objek {wrapper(method)} tidak ditemukan")
        try:
            answer = handler(state, params, request)
        except Refusal as refusal:
            return reply(method, refusal.kode, refusal.keterangan)
        return reply(method, 200, **{"keterangan": "", **answer})

    @app.post("/_sim/push")
    async def push(request: Request) -> JSONResponse:
        """Make OSS push a licence status: `{"url", "nib", "id_izin", "kd_status", "keterangan"?, "token"?}` →
        POSTs `receiveLicenseStatus` to `url` with OSS's Token (or the given one) and answers what came back."""
        order = await request.json()
        day = dt.datetime.now(WIB).date()
        token = order.get("token") or push_token(DEFAULT_PUSH_USER, DEFAULT_PUSH_PASSWORD, order["nib"], day)
        body = {"RECEIVELICENSESTATUS": {"nib": order["nib"], "id_izin": order["id_izin"],
                                         "kd_status": order["kd_status"], "keterangan": order.get("keterangan", "")}}
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            answer = await client.post(order["url"], json=body, headers={TOKEN_HEADER: token})
        try:
            reply_body: Any = answer.json()
        except ValueError:
            reply_body = answer.text
        return JSONResponse({"status_code": answer.status_code, "reply": reply_body})

    return app


def sim_config(base_url: str) -> dict[str, str]:
    """Client settings that reach a simulator at `base_url` with its default demo key (and the credentials its
    pushes are signed with, which Gerbang's inbound endpoint checks)."""
    return {"url": base_url, "user_key": DEFAULT_USER_KEY, "push_user": DEFAULT_PUSH_USER,
            "push_password": DEFAULT_PUSH_PASSWORD}
