"""A BPJS Kesehatan (VClaim-style) server over the synthetic population, for tests and the demo.

It speaks the protocol in `protocol.py`: it checks the four signature headers on every call (missing header,
unknown cons id, wrong user_key, bad signature, or a timestamp more than `max_clock_skew_s` away from its clock →
HTTP 403 with a plain-text body and no envelope, as a public client test expects of the real service), and
encrypts `response` with the key of the caller's own
X-timestamp. Data comes from `participants.Registry`. Submissions are deduplicated by `X-Idempotency-Key`: the same
key with the same request answers the same reference; with another request, code "409". A change of clinic is
answered with its reference and the date it takes effect (the first of next month); the simulator's lookups keep
showing the old clinic, so repeated demos stay deterministic.

Faults (`POST /_sim/faults`): error → metaData code "500"; garbage → an envelope with code "200" whose `response`
does not decrypt under any request's key; and the real replies: `forbidden` → HTTP 403 (bad credentials),
`not_found` → metaData 201 "No.Kartu Tidak Sesuai".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from connectors.bpjs_kesehatan import crypto
from connectors.bpjs_kesehatan.participants import Registry
from connectors.bpjs_kesehatan.protocol import (
    CODE_BAD_REQUEST,
    CODE_KEY_REUSED,
    CODE_NOT_FOUND,
    CODE_OK,
    CODE_SERVER_ERROR,
    IDEMPOTENCY_HEADER,
    PESERTA_BY_NIK,
    REFERENCE_CLINICS,
    REFERENCE_PROVINCES,
    UPDATE_CLINIC,
    wib_date_of,
)
from connectors.simkit.control import SimControl, install

if TYPE_CHECKING:
    from connectors.simkit.population import Population

DEFAULT_CONS_ID = "1000"
DEFAULT_SECRET = "gerbang-sim-secret"
DEFAULT_USER_KEY = "gerbang-sim-user-key"
NOT_FOUND_MESSAGE = "No.Kartu Tidak Sesuai"
MAX_CLINICS = 50
"""metaData.message of a lookup that finds no participant, as a public client test shows it."""

GARBAGE_BODY = json.dumps(
    {
        "metaData": {"code": CODE_OK, "message": "OK"},
        # 31 bytes: not a whole number of AES blocks, so it cannot decrypt under any key
        "response": "VGhpcyBpcyBub3QgYW4gZW5jcnlwdGVkIHJlcGx5IQ==",
    }
).encode()


@dataclass(frozen=True)
class Credentials:
    cons_id: str
    secret: str
    user_key: str


def envelope(code: str, message: str, response: Any = None) -> JSONResponse:
    """A VClaim-style reply: always HTTP 200, outcome in metaData.code (a string)."""
    return JSONResponse({"metaData": {"code": code, "message": message}, "response": response})


def error_reply(_request: Request) -> JSONResponse:
    """The agency's own error envelope, for the `error` fault mode."""
    return envelope(CODE_SERVER_ERROR, "Internal Server Error")


def simulator(
    population: Population,
    *,
    cons_id: str = DEFAULT_CONS_ID,
    secret: str = DEFAULT_SECRET,
    user_key: str = DEFAULT_USER_KEY,
    max_clock_skew_s: int = 300,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The simulator app; `app.state.control` is its SimControl, `app.state.registry` its membership data."""
    app = FastAPI(title="BPJS Kesehatan simulator (VClaim style)", docs_url=None, redoc_url=None)
    control = SimControl()
    registry = Registry(population)
    creds = Credentials(cons_id, secret, user_key)
    ledger = SubmissionLedger()
    app.state.control, app.state.registry = control, registry
    install(
        app,
        control,
        error_reply=error_reply,
        garbage_body=GARBAGE_BODY,
        replies={
            "forbidden": lambda request: refused("fault switch"),
            "not_found": lambda request: envelope(CODE_NOT_FOUND, NOT_FOUND_MESSAGE),
        },
    )

    def authenticate(request: Request) -> str | PlainTextResponse:
        """The request's timestamp if its headers are valid, else the refusal to send."""
        return check_headers(request.headers, creds, clock(), max_clock_skew_s)

    def sealed(timestamp: str, payload: Any, message: str = "OK") -> JSONResponse:
        return envelope(CODE_OK, message, crypto.seal(payload, creds.cons_id, creds.secret, timestamp))

    @app.get("/" + PESERTA_BY_NIK)
    async def peserta_by_nik(request: Request, nik: str, service_date: str) -> Response:
        timestamp = authenticate(request)
        if isinstance(timestamp, PlainTextResponse):
            return timestamp
        if not (len(nik) == 16 and nik.isascii() and nik.isdigit()):
            return envelope(CODE_BAD_REQUEST, "NIK harus 16 digit angka")
        try:
            on = dt.date.fromisoformat(service_date) if len(service_date) == 10 else None
        except ValueError:
            on = None
        today = wib_date_of(clock())
        if on is None:
            return envelope(CODE_BAD_REQUEST, "Format Tgl.SEP tidak sesuai (yyyy-MM-dd)")
        if on > today:
            return envelope(CODE_BAD_REQUEST, "Tgl.SEP tidak boleh lebih dari tanggal hari ini")
        membership = registry.by_nik(nik)
        if membership is None:
            return envelope(CODE_NOT_FOUND, NOT_FOUND_MESSAGE)
        return sealed(timestamp, {"peserta": membership.peserta(on, today)})

    @app.get("/" + REFERENCE_PROVINCES)
    async def provinces(request: Request) -> Response:
        timestamp = authenticate(request)
        if isinstance(timestamp, PlainTextResponse):
            return timestamp
        return sealed(timestamp, {"list": registry.provinces})

    @app.get("/" + REFERENCE_CLINICS)
    async def clinics(request: Request, query: str, level: str) -> Response:
        timestamp = authenticate(request)
        if isinstance(timestamp, PlainTextResponse):
            return timestamp
        if level != "1":  # only first-level clinics exist here (no hospitals)
            return envelope(CODE_NOT_FOUND, "Data faskes tidak ditemukan")
        wanted = query.strip().upper()
        found = [
            {"kode": c.code, "nama": c.name}
            for c in registry.clinics.values()
            if len(wanted) >= 3 and (c.code == wanted or wanted in c.name)
        ]
        if not found:
            return envelope(CODE_NOT_FOUND, "Data faskes tidak ditemukan")
        return sealed(timestamp, {"faskes": found[:MAX_CLINICS]})

    @app.post("/" + UPDATE_CLINIC)
    async def update_clinic(request: Request) -> Response:
        timestamp = authenticate(request)
        if isinstance(timestamp, PlainTextResponse):
            return timestamp
        key = request.headers.get(IDEMPOTENCY_HEADER, "")
        if not (0 < len(key) <= 128 and key.isascii() and key.isprintable()):
            return envelope(CODE_BAD_REQUEST, f"Header {IDEMPOTENCY_HEADER} wajib diisi (maks. 128 karakter)")
        control.record_submission(key)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return envelope(CODE_BAD_REQUEST, "Request bukan JSON")
        wrapper = body.get("request") if isinstance(body, dict) else None
        request_data = wrapper.get("t_peserta") if isinstance(wrapper, dict) else None
        if not isinstance(request_data, dict):
            return envelope(CODE_BAD_REQUEST, "Format request tidak sesuai: request.t_peserta wajib diisi")
        fingerprint = hashlib.sha256(json.dumps(request_data, sort_keys=True).encode()).hexdigest()
        with ledger.lock:
            previous = ledger.outcomes.get(key)
            if previous is not None and previous[0] != fingerprint:
                return envelope(CODE_KEY_REUSED, "Idempotency key sudah dipakai untuk pengajuan lain")
            if previous is None:
                outcome = decide_clinic_change(request_data, registry, clock(), ledger)
                if outcome[0] in (CODE_OK, CODE_NOT_FOUND):  # decisions are final; malformed requests are not
                    ledger.outcomes[key] = (fingerprint, outcome)
            else:
                outcome = previous[1]
        code, message, payload = outcome
        return sealed(timestamp, payload, message) if code == CODE_OK else envelope(code, message)

    return app


def refused(reason: str) -> PlainTextResponse:
    """Bad credentials: HTTP 403 without an envelope (body and content type of the real one are unknown)."""
    return PlainTextResponse(f"403 Forbidden: {reason}", status_code=403)


def check_headers(headers: Any, creds: Credentials, now: float, max_skew_s: int) -> str | PlainTextResponse:
    """VClaim authentication: all four headers present, known cons id and user_key, fresh timestamp, HMAC."""
    cons_id, timestamp = headers.get("x-cons-id"), headers.get("x-timestamp")
    signature, user_key = headers.get("x-signature"), headers.get("user_key")
    if not (cons_id and timestamp and signature and user_key):
        return refused("X-cons-id, X-timestamp, X-signature dan user_key wajib diisi")
    if cons_id != creds.cons_id or not crypto.signature_matches(creds.user_key, user_key):
        return refused("consumer tidak terdaftar")
    if not (timestamp.isascii() and timestamp.isdigit()) or abs(now - int(timestamp)) > max_skew_s:
        return refused("X-timestamp tidak valid atau kedaluwarsa")
    if not crypto.signature_matches(crypto.signature(creds.cons_id, creds.secret, timestamp), signature):
        return refused("signature tidak valid")
    return timestamp


class SubmissionLedger:
    """Outcomes by idempotency key, and the sequence behind the references."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: dict[str, tuple[str, tuple[str, str, Any]]] = {}
        self.sequence = 0

    def next_reference(self, day: dt.date) -> str:
        self.sequence += 1
        return f"FKTP{day:%y%m%d}{self.sequence:06d}"


def decide_clinic_change(
    data: dict[str, Any], registry: Registry, now: float, ledger: SubmissionLedger
) -> tuple[str, str, Any]:
    """The agency's verdict on a change of clinic: (code, message, response payload)."""
    nik, card, clinic_code = data.get("nik"), data.get("noKartu"), data.get("kdProviderBaru")
    reason = data.get("alasan")
    if not (isinstance(nik, str) and len(nik) == 16 and nik.isascii() and nik.isdigit()):
        return CODE_BAD_REQUEST, "nik wajib diisi, 16 digit angka", None
    if card is not None and not (isinstance(card, str) and len(card) == 13 and card.isdigit()):
        return CODE_BAD_REQUEST, "noKartu harus 13 digit angka", None
    if not isinstance(clinic_code, str) or not clinic_code:
        return CODE_BAD_REQUEST, "kdProviderBaru wajib diisi", None
    if not isinstance(reason, str) or not 3 <= len(reason.strip()) <= 200:
        return CODE_BAD_REQUEST, "alasan wajib diisi (3-200 karakter)", None
    membership = registry.by_nik(nik)
    if membership is None:
        return CODE_NOT_FOUND, "Peserta tidak ditemukan", None
    if card is not None and card != membership.card_number:
        return CODE_NOT_FOUND, "No.Kartu tidak sesuai dengan NIK", None
    if not membership.active:
        return CODE_NOT_FOUND, f"Status peserta {membership.status[1]}: tidak dapat pindah faskes", None
    clinic = registry.clinics.get(clinic_code)
    if clinic is None:
        return CODE_NOT_FOUND, "Kode faskes tujuan tidak terdaftar", None
    if clinic.code == membership.clinic.code:
        return CODE_NOT_FOUND, "Faskes tujuan sama dengan faskes saat ini", None
    today = wib_date_of(now)
    effective = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    payload = {
        "noPengajuan": ledger.next_reference(today),
        "noKartu": membership.card_number,
        "faskesLama": {"kdProvider": membership.clinic.code, "nmProvider": membership.clinic.name},
        "faskesBaru": {"kdProvider": clinic.code, "nmProvider": clinic.name},
        "tglPengajuan": today.isoformat(),
        "tglBerlaku": effective.isoformat(),
        "status": "DITERIMA",
    }
    return CODE_OK, "Sukses", payload


def sim_config(base_url: str) -> dict[str, str]:
    """Client settings that reach a simulator at `base_url` with its default demo credentials."""
    return {"url": base_url, "cons_id": DEFAULT_CONS_ID, "secret": DEFAULT_SECRET, "user_key": DEFAULT_USER_KEY}


def contract_samples(population: Population) -> dict[str, Any]:
    """What the contract kit (connectors/contract) asks this simulator:an active participant and a change of their
    clinic."""
    registry = Registry(population)
    for person in population.ordinary():
        membership = registry.membership(person)
        if membership is not None and membership.active and membership.card_number:
            clinic = next(code for code in registry.clinics if code != membership.clinic.code)
            return {
                "found": person.nik,
                "service": "participant_update",
                "payload": {
                    "nik": person.nik,
                    "card_number": membership.card_number,
                    "new_clinic_code": clinic,
                    "reason": "Pindah domisili",
                },
            }
    raise LookupError("no active BPJS Kesehatan participant")
