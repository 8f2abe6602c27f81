"""A Dukcapil (civil registry) web-service simulator: a real HTTP server speaking the gateway's REST JSON dialect
as public sources show it (shared/agency-evidence/README.md, "Dukcapil"; [C] confirmed, [I] inferred there).

Endpoints (both POST, JSON body, HTTP 200 with Spring Data's page envelope whatever the outcome):

`/dukcapil/get_json/{institution}/CALL_NIK` — full data by NIK. Body (keys so by default; a regional gateway
spells them otherwise, see `body_keys`)::

    {"NIK": "3276015505850003", "user_id": "…", "password": "…", "ip_user": "127.0.0.1"}

`/dukcapil/get_json/{institution}/CALL_VERIFY_BY_ELEMEN` — per-field match. Credentials in UPPER case, `TRESHOLD`
(sic, 0–100, string or number, default 80) and any subset of the full-data fields; `TGL_LHR` as dd-mm-yyyy::

    {"USER_ID": "…", "PASSWORD": "…", "IP_USER": "127.0.0.1", "TRESHOLD": "80", "NIK": "3276…",
     "NAMA_LGKP": "SITI AMINAH", "TGL_LHR": "15-05-1985", "JENIS_KLMIN": "PEREMPUAN"}

What it answers, as the evidence shows it:
- [C] A found CALL_NIK item carries **no response code**. NIK and NO_KK are 16-digit JSON numbers; NO_RT, NO_RW,
  NO_PROP, NO_KAB, NO_KEC, NO_KEL are JSON numbers too (7, 3, 1004). The field set varies (per person, option
  `field_sets`): "full" (34 keys, TGL_LHR dotted `14.02.1991`, null marriage/divorce fields, parents' names ending
  in a space), "short" (20 keys, no region codes or EKTP_STATUS, ISO date) and "foto" (mixed-case name,
  "Laki-Laki"/"Perempuan", region codes, ISO date, a base64 FOTO). Option `date_format` forces one format.
- [C] CALL_NIK errors are a bare `{"RESPON": text}`: "Data Tidak Ditemukan"; "Login Gagal" and "IP Address Tidak
  Sesuai" ([I] the real wording, from a mock gateway); "Kuota Akses Hari ini telah Habis" ([I] no reply seen).
- [C] Verify matches: one verdict per sent element ("Sesuai"/"Tidak Sesuai", the fuzzy ones with a score
  "Sesuai (100)"), plus `"NIK": "Sesuai"`, no code; the envelope adds `quotaLimiter`, `totalElements`/`size` 10.
- [C] Verify errors: `RESPONSE_CODE` + `RESPONSE_DESC` + `RESPONSE`, no verdicts: 11 "meninggal dunia", 12 "Data
  Ditemukan, Data Ganda", 13 "Data Tidak Ditemukan, NIK tidak terdapat di database Kependudukan", 04 "IP Tidak
  Sesuai"; [I] 05 "Kuota Akses Hari Ini Telah Habis", 03 "Login Gagal".
- [C] Regional gateways end the path otherwise (`call_nik`, `BYNIK`) and name keys otherwise (`nik`,
  `ip_address`): options `institution` (may hold several segments, "32-76/USER01"), `call_nik`, `call_verify`,
  `body_keys`.

Where the public facts are silent, this simulator decides (a client must not rely on more than the facts above):
- [?] How CALL_NIK reports a deceased or inactive person: deceased → the data plus the verify-style
  `RESPONSE_CODE` "11" and `RESPONSE`; inactive → `RESPONSE_CODE` "14", "NIK Tidak Aktif", no data.
- A NIK that is not sixteen digits or cannot be a NIK is "Data Tidak Ditemukan" (verify: 13), like an unknown one.
- A body that is not a JSON object is HTTP 400 with Spring's error body; an unknown path HTTP 404; a verify with a
  bad TRESHOLD or nothing to check is `RESPONSE_CODE` "07" "Permintaan tidak lengkap".
- Checks run in this order, the first failure answers: path → body → credentials (empty, wrong, or the user
  inactive: "Login Gagal") → the caller's address and `ip_user` on the allow-list ("IP Address Tidak
  Sesuai") → quota → NIK → the person. Every call that gets past the quota check uses one unit of quota, which
  resets at midnight Asia/Jakarta (WIB, UTC+7, no daylight saving).
- Verify fuzzy scores: difflib similarity × 100 against TRESHOLD after upper-casing and collapsing spaces and
  punctuation. Dates are accepted as dd-mm-yyyy, dd.mm.yyyy, yyyy-mm-dd or dd/mm/yyyy; sex as L/P or
  LAKI-LAKI/PEREMPUAN; numbers with or without leading zeros. Unknown field names are ignored.

Faults (`POST /_sim/faults`): besides down/slow/garbage, "error" answers HTTP 500 with Spring's error body, and
one mode per real error reply — `quota`, `login`, `ip`, `not_found`, `deceased`, `duplicate` — answers that reply
(in the shape of the call asked) to every request until reset.
Dukcapil takes no submissions: there is no such endpoint.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response

from connectors.dukcapil.simdata import FIELD_SETS, FULL_FIELDS, DateFormat, person_fields, shape_of
from connectors.dukcapil.simmatch import verdict
from connectors.dukcapil.simreplies import (
    DECEASED_TEXT,
    IP_TEXT,
    LOGIN_TEXT,
    MEDIA_TYPE,
    NOT_FOUND_TEXT,
    QUOTA_TEXT,
    VERIFY_ERRORS,
    Reply,
    code_item,
    envelope,
    json_reply,
    nik_code,
    respon,
    spring_error,
)
from connectors.simkit.control import SimControl, install
from connectors.simkit.population import Population
from identity.clock import today_wib

DEFAULT_INSTITUTION = "GERBANG"
DEFAULT_USER_ID = "20240814GERBANG0001"
DEFAULT_PASSWORD = "sim-dukcapil-2024"
DEFAULT_IP = "127.0.0.1"
DEFAULT_THRESHOLD = 80
DEFAULT_BODY_KEYS = {"nik": "NIK", "user_id": "user_id", "password": "password", "ip_user": "ip_user"}
REPLY_MODES = ("quota", "login", "ip", "not_found", "deceased", "duplicate")


# --- quota -----------------------------------------------------------------------------------------------------
@dataclass
class DailyQuota:
    """Calls left today for one institution; the day turns at midnight WIB."""

    limit: int
    clock: Callable[[], dt.datetime]
    used: int = 0
    day: dt.date | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _roll(self) -> None:
        today = today_wib(self.clock())
        if today != self.day:
            self.day, self.used = today, 0

    def remaining(self) -> int:
        with self.lock:
            self._roll()
            return max(self.limit - self.used, 0)

    def take(self) -> int:
        """Use one call; raises Reply("05") when none is left. Returns what remains."""
        with self.lock:
            self._roll()
            if self.used >= self.limit:
                raise Reply("05", QUOTA_TEXT)
            self.used += 1
            return self.limit - self.used

    def reset(self, used: int = 0) -> None:
        with self.lock:
            self._roll()
            self.used = used


# --- the app ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    user_id: str
    password: str
    ip_user: str


def simulator(
    population: Population,
    *,
    institution: str = DEFAULT_INSTITUTION,
    user_id: str = DEFAULT_USER_ID,
    password: str = DEFAULT_PASSWORD,
    ip_allow: Iterable[str] = (DEFAULT_IP,),
    daily_quota: int = 10_000,
    date_format: DateFormat | None = None,
    field_sets: Iterable[str] = ("full", "short", "foto"),
    call_nik: str = "CALL_NIK",
    call_verify: str = "CALL_VERIFY_BY_ELEMEN",
    body_keys: Mapping[str, str] | None = None,
    user_active: bool = True,
    clock: Callable[[], dt.datetime] | None = None,
) -> FastAPI:
    """The Dukcapil gateway for one institution, serving `population`.

    `field_sets` are the shapes a found item may take (chosen per person); `date_format` forces one date format
    (else: dotted for "full", ISO for the others); `body_keys` renames CALL_NIK's body keys ({"nik": "nik",
    "ip_user": "ip_address"}) and `call_nik`/`call_verify` its path endings, as regional gateways do; `clock`
    (an aware-datetime callable) lets tests move time for the quota. `app.state.quota` is the DailyQuota.
    """
    if date_format not in (None, "dotted", "iso"):
        raise ValueError(f"date_format must be dotted or iso, not {date_format!r}")
    shapes = tuple(field_sets)
    if not shapes or any(shape not in FIELD_SETS for shape in shapes):
        raise ValueError(f"field_sets must be some of {', '.join(FIELD_SETS)}")
    if daily_quota < 0:
        raise ValueError("daily_quota must not be negative")
    keys = {**DEFAULT_BODY_KEYS, **dict(body_keys or {})}
    if set(keys) != set(DEFAULT_BODY_KEYS):
        raise ValueError(f"body_keys may only rename {', '.join(DEFAULT_BODY_KEYS)}")
    now = clock or (lambda: dt.datetime.now(dt.UTC))
    networks = [ipaddress.ip_network(entry, strict=False) for entry in ip_allow]
    base = f"/dukcapil/get_json/{institution.strip('/')}/"
    nik_path, verify_path = base + call_nik, base + call_verify

    def allowed_ip(text: str) -> bool:
        """Addresses or networks (CIDR) on the allow-list; `gerbang simulate serve` may open it to a compose net."""
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return False
        return any(address in network for network in networks)

    quota = DailyQuota(limit=daily_quota, clock=now)
    control = SimControl()

    app = FastAPI(title="Dukcapil simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.control = control
    app.state.quota = quota
    app.state.population = population

    def check_access(request: Request, creds: Credentials) -> None:
        if not creds.user_id or not creds.password or not creds.ip_user:
            raise Reply("03", LOGIN_TEXT)
        if creds.user_id != user_id or creds.password != password or not user_active:
            raise Reply("03", LOGIN_TEXT)
        client_host = request.client.host if request.client else ""
        if not allowed_ip(client_host) or not allowed_ip(creds.ip_user):
            raise Reply("04", IP_TEXT)

    def credentials(body: Mapping[str, Any], names: tuple[str, str, str]) -> Credentials:
        values = [body.get(k) for k in names]
        return Credentials(
            *(str(v).strip() if isinstance(v, (str, int)) and not isinstance(v, bool) else "" for v in values)
        )

    async def handle(request: Request, verify: bool) -> Response:
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return spring_error(400, "Bad Request", request.url.path)
        names = ("USER_ID", "PASSWORD", "IP_USER") if verify else (keys["user_id"], keys["password"], keys["ip_user"])
        try:
            check_access(request, credentials(body, names))
            left = quota.take()
        except Reply as stop:
            item = code_item(stop.code) if verify else respon(stop.text or VERIFY_ERRORS[stop.code])
            return json_reply(envelope([item], quota.remaining() if verify else None))
        if verify:
            return json_reply(envelope([call_verify_item(body)], left))
        return json_reply(envelope([call_nik_item(body)]))

    def call_nik_item(body: dict[str, Any]) -> dict[str, Any]:
        try:
            nik = nik_code(body.get(keys["nik"]))
        except Reply:
            return respon(NOT_FOUND_TEXT)
        person = population.by_nik(nik)
        if person is None or not person.in_dukcapil:
            return respon(NOT_FOUND_TEXT)
        if person.life_status == "inactive":
            return code_item("14")
        item = person_fields(population, person, date_format, shape_of(population, person, shapes))
        if person.life_status == "deceased":
            item.update(code_item("11", DECEASED_TEXT))
        return item

    def call_verify_item(body: dict[str, Any]) -> dict[str, Any]:
        try:
            nik = nik_code(body.get("NIK"))
            threshold = _threshold(body.get("TRESHOLD", DEFAULT_THRESHOLD))
        except Reply as stop:
            return code_item(stop.code)
        claims = {k: v for k, v in body.items() if k in FULL_FIELDS and k != "NIK" and v is not None}
        if not claims:
            return code_item("07")
        person = population.by_nik(nik)
        if person is None or not person.in_dukcapil:
            return code_item("13")
        if person.life_status == "inactive":
            return code_item("14")
        if person.life_status == "deceased":
            return code_item("11")
        held = person_fields(population, person, "iso", "full")
        verdicts = {k: verdict(k, v, held[k], person, threshold) for k, v in claims.items()}
        return {**verdicts, "NIK": "Sesuai"}

    @app.post(nik_path)
    async def call_nik_route(request: Request) -> Response:
        return await handle(request, verify=False)

    @app.post(verify_path)
    async def call_verify_route(request: Request) -> Response:
        return await handle(request, verify=True)

    @app.api_route("/dukcapil/{rest:path}", methods=["GET", "POST"])
    async def elsewhere(rest: str, request: Request) -> Response:
        if request.url.path in (nik_path, verify_path):  # a GET on a call: what health() relies on
            return spring_error(405, "Method Not Allowed", request.url.path)
        return spring_error(404, "Not Found", request.url.path)

    def error_reply(request: Request) -> Response:
        return spring_error(500, "Internal Server Error", request.url.path)

    def real_reply(mode: str) -> Callable[[Request], Response]:
        """The agency's own reply for a fault mode, in the shape of the call asked."""
        nik_items = {
            "quota": respon(QUOTA_TEXT),
            "login": respon(LOGIN_TEXT),
            "ip": respon(IP_TEXT),
            "not_found": respon(NOT_FOUND_TEXT),
            "deceased": code_item("11", DECEASED_TEXT),
            "duplicate": code_item("12"),
        }
        verify_items = {
            "quota": code_item("05"),
            "login": code_item("03"),
            "ip": code_item("04"),
            "not_found": code_item("13"),
            "deceased": code_item("11"),
            "duplicate": code_item("12"),
        }

        def reply(request: Request) -> Response:
            if request.url.path == verify_path:
                return json_reply(envelope([verify_items[mode]], quota.remaining()))
            if request.url.path == nik_path:
                return json_reply(envelope([nik_items[mode]]))
            return spring_error(404, "Not Found", request.url.path)

        return reply

    install(
        app,
        control,
        error_reply=error_reply,
        garbage_body=b'{"content":[{"NIK":3276015505850003,"NAMA_LGKP":"',
        garbage_type=MEDIA_TYPE,
        replies={mode: real_reply(mode) for mode in REPLY_MODES},
    )
    return app


def _threshold(value: Any) -> int:
    if isinstance(value, bool):
        raise Reply("07")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise Reply("07") from None
    if not 0 <= number <= 100:
        raise Reply("07")
    return number


def sim_config(base_url: str) -> dict[str, str]:
    """Client settings that talk to a simulator started with the defaults at `base_url`."""
    return {
        "url": base_url,
        "institution": DEFAULT_INSTITUTION,
        "user": DEFAULT_USER_ID,
        "password": DEFAULT_PASSWORD,
        "ip": DEFAULT_IP,
    }


def contract_samples(population: Population) -> dict[str, Any]:
    """What the contract kit (connectors/contract) asks this simulator: a NIK on file and claims that match it."""
    person = population.ordinary()[0]
    return {"found": person.nik, "claims": {"full_name": person.name, "birth_date": person.birth_date.isoformat()}}
