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
- Checks run in this order, the first failure answers: path → body → credentials (empty, wrong, user or
  institution inactive: "Login Gagal") → the caller's address and `ip_user` on the allow-list ("IP Address Tidak
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
import difflib
import ipaddress
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI, Request, Response

from connectors.simkit.control import SimControl, install
from connectors.simkit.population import Person, Population
from identity.clock import WIB

DateFormat = Literal["dotted", "iso"]
FieldSet = Literal["full", "short", "foto"]

DEFAULT_INSTITUTION = "GERBANG"
DEFAULT_USER_ID = "20240814GERBANG0001"
DEFAULT_PASSWORD = "sim-dukcapil-2024"
DEFAULT_IP = "127.0.0.1"
DEFAULT_THRESHOLD = 80
DEFAULT_BODY_KEYS = {"nik": "NIK", "user_id": "user_id", "password": "password", "ip_user": "ip_user"}
MEDIA_TYPE = "application/json;charset=UTF-8"

#: CALL_NIK's bare RESPON texts
NOT_FOUND_TEXT = "Data Tidak Ditemukan"
LOGIN_TEXT = "Login Gagal"
IP_TEXT = "IP Address Tidak Sesuai"
QUOTA_TEXT = "Kuota Akses Hari ini telah Habis"
#: verify's (RESPONSE_CODE, RESPONSE) pairs, and CALL_NIK's for the person's status
VERIFY_ERRORS = {
    "03": "Login Gagal",
    "04": "IP Tidak Sesuai",
    "05": "Kuota Akses Hari Ini Telah Habis",
    "07": "Permintaan tidak lengkap",
    "11": "meninggal dunia",
    "12": "Data Ditemukan, Data Ganda",
    "13": "Data Tidak Ditemukan, NIK tidak terdapat di database Kependudukan",
    "14": "NIK Tidak Aktif",
}
DECEASED_TEXT = "Data Ditemukan, Meninggal Dunia"
FULL_FIELDS = (
    "NIK",
    "NO_KK",
    "NAMA_LGKP",
    "JENIS_KLMIN",
    "TMPT_LHR",
    "TGL_LHR",
    "NO_AKTA_LHR",
    "ALAMAT",
    "NO_RT",
    "NO_RW",
    "KEL_NAME",
    "NO_KEL",
    "KEC_NAME",
    "NO_KEC",
    "KAB_NAME",
    "NO_KAB",
    "PROP_NAME",
    "NO_PROP",
    "KODE_POS",
    "DUSUN",
    "AGAMA",
    "GOL_DARAH",
    "JENIS_PKRJN",
    "PDDK_AKH",
    "STATUS_KAWIN",
    "TGL_KWN",
    "NO_AKTA_KWN",
    "STAT_HBKEL",
    "TGL_CRAI",
    "NO_AKTA_CRAI",
    "PNYDNG_CCT",
    "NAMA_LGKP_AYAH",
    "NAMA_LGKP_IBU",
    "EKTP_STATUS",
)
SHORT_FIELDS = (
    "NO_KK",
    "NIK",
    "NAMA_LGKP",
    "KAB_NAME",
    "AGAMA",
    "NAMA_LGKP_AYAH",
    "NO_RW",
    "KEC_NAME",
    "JENIS_PKRJN",
    "NO_RT",
    "ALAMAT",
    "TMPT_LHR",
    "PDDK_AKH",
    "STATUS_KAWIN",
    "NAMA_LGKP_IBU",
    "PROP_NAME",
    "GOL_DARAH",
    "KEL_NAME",
    "JENIS_KLMIN",
    "TGL_LHR",
)
FOTO_FIELDS = (
    "NAMA_LGKP",
    "AGAMA",
    "JENIS_PKRJN",
    "PDDK_AKH",
    "TMPT_LHR",
    "STATUS_KAWIN",
    "GOL_DARAH",
    "JENIS_KLMIN",
    "NIK",
    "NO_KK",
    "KAB_NAME",
    "NO_RW",
    "KEC_NAME",
    "NO_RT",
    "NO_KEL",
    "ALAMAT",
    "NO_KEC",
    "NO_PROP",
    "PROP_NAME",
    "NO_KAB",
    "TGL_LHR",
    "KEL_NAME",
    "FOTO",
)
FIELD_SETS: dict[str, tuple[str, ...]] = {"full": FULL_FIELDS, "short": SHORT_FIELDS, "foto": FOTO_FIELDS}
SHAPE_DATES: dict[str, DateFormat] = {"full": "dotted", "short": "iso", "foto": "iso"}
#: a 1×1 JPEG: the shape of the FOTO some gateways add, without anyone's face
FOTO = (
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0"
    "Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8A"
    "Kp//2Q=="
)
FUZZY_FIELDS = frozenset({"NAMA_LGKP", "ALAMAT", "TMPT_LHR", "NAMA_LGKP_AYAH", "NAMA_LGKP_IBU"})
NUMERIC_FIELDS = frozenset({"NIK", "NO_KK", "NO_RT", "NO_RW", "NO_KEL", "NO_KEC", "NO_KAB", "NO_PROP", "KODE_POS"})
REPLY_MODES = ("quota", "login", "ip", "not_found", "deceased", "duplicate")


class Reply(Exception):
    """Stops a request with the agency's answer: a bare RESPON text on CALL_NIK, a code on verify."""

    def __init__(self, code: str, text: str | None = None):
        super().__init__(code)
        self.code = code
        self.text = text


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
        today = self.clock().astimezone(WIB).date()
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


# --- rendering a person ------------------------------------------------------------------------------------------
def format_date(date: dt.date, date_format: DateFormat) -> str:
    if date_format == "dotted":
        return f"{date.day:02d}.{date.month:02d}.{date.year:04d}"
    return date.isoformat()


def _number(text: str | None) -> int | None:
    """A code or number the gateway sends as a JSON number ("007" → 7); None stays None."""
    return int(text) if text is not None and str(text).strip().isdigit() else None


def shape_of(population: Population, person: Person, field_sets: tuple[str, ...]) -> str:
    """Which field set this gateway answers for this person (fixed per person and seed)."""
    if len(field_sets) == 1:
        return field_sets[0]
    quirks = population.rng(person, "dukcapil-shape")
    return field_sets[int(quirks.random() * len(field_sets))]


def person_fields(
    population: Population, person: Person, date_format: DateFormat | None = None, shape: str = "full"
) -> dict[str, Any]:
    """The person as a found CALL_NIK item of the given field set: no response code, numbers as JSON numbers."""
    quirks = population.rng(person, "dukcapil")
    name_pad = " " * quirks.choice((1, 1, 2, 3)) if quirks.random() < 0.35 else ""
    parents_pad = " " if shape == "full" else ""
    _, regency, district, village = person.village_code.split(".")
    foto = shape == "foto"
    every = {
        "NIK": int(person.nik),
        "NO_KK": int(person.kk_number),
        "NAMA_LGKP": person.name.title() if foto else person.name + name_pad,
        "JENIS_KLMIN": ("Laki-Laki" if foto else "LAKI-LAKI")
        if person.sex == "L"
        else ("Perempuan" if foto else "PEREMPUAN"),
        "TMPT_LHR": person.birth_place,
        "TGL_LHR": format_date(person.birth_date, date_format or SHAPE_DATES[shape]),
        "NO_AKTA_LHR": person.birth_certificate_no,
        "ALAMAT": person.street,
        "NO_RT": _number(person.rt),
        "NO_RW": _number(person.rw),
        "KEL_NAME": person.village,
        "NO_KEL": _number(village),
        "KEC_NAME": person.district,
        "NO_KEC": _number(district),
        "KAB_NAME": person.regency,
        "NO_KAB": _number(regency),
        "PROP_NAME": person.province,
        "NO_PROP": _number(person.province_code),
        "KODE_POS": _number(person.postal_code),
        "DUSUN": person.hamlet,
        "AGAMA": person.religion,
        "GOL_DARAH": person.blood_type,
        "JENIS_PKRJN": person.occupation,
        "PDDK_AKH": person.education,
        "STATUS_KAWIN": person.marital_status,
        "TGL_KWN": None,
        "NO_AKTA_KWN": None,
        "STAT_HBKEL": person.family_role,
        "TGL_CRAI": None,
        "NO_AKTA_CRAI": None,
        "PNYDNG_CCT": None,
        "NAMA_LGKP_AYAH": person.father_name + parents_pad,
        "NAMA_LGKP_IBU": person.mother_name + parents_pad,
        "EKTP_STATUS": person.ektp_status,
        "FOTO": FOTO,
    }
    return {key: every[key] for key in FIELD_SETS[shape]}


def envelope(items: list[dict[str, Any]], quota_left: int | None = None) -> dict[str, Any]:
    """Spring Data's page wrapper: CALL_NIK's with `sort`; verify's (`quota_left` given) with `quotaLimiter` and
    `totalElements`/`size` 10, as the public samples show them."""
    if quota_left is None:
        return {
            "content": items,
            "lastPage": True,
            "numberOfElements": len(items),
            "sort": None,
            "totalElements": len(items),
            "firstPage": True,
            "number": 0,
            "size": max(len(items), 1),
        }
    return {
        "content": items,
        "lastPage": True,
        "numberOfElements": len(items),
        "totalElements": 10,
        "firstPage": True,
        "number": 0,
        "size": 10,
        "quotaLimiter": quota_left,
    }


def json_reply(payload: Mapping[str, Any], status_code: int = 200) -> Response:
    # Python writes ints exactly, so NIK and NO_KK go out as 16-digit JSON numbers, never through a float.
    return Response(
        json.dumps(payload, ensure_ascii=False).encode("utf-8"), media_type=MEDIA_TYPE, status_code=status_code
    )


def spring_error(status: int, error: str, path: str) -> Response:
    """Spring Boot's default error body, as a Java gateway answers what never reaches its handler."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
    return json_reply({"timestamp": stamp, "status": status, "error": error, "path": path}, status)


def respon(text: str) -> dict[str, Any]:
    """CALL_NIK's error item: a bare RESPON, no code."""
    return {"RESPON": text}


def code_item(code: str, text: str | None = None) -> dict[str, Any]:
    """Verify's error item: RESPONSE_CODE, RESPONSE_DESC and RESPONSE, no verdicts."""
    message = text or VERIFY_ERRORS[code]
    return {"RESPONSE_CODE": code, "RESPONSE_DESC": message, "RESPONSE": message}


# --- NIK structure (the simulator checks on its own: connectors do not depend on identity/) ---------------------
def nik_code(value: Any) -> str:
    """The NIK as 16 digits, or Reply 13 (not found): missing, not 16 digits, or structurally impossible."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Reply("13")
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{16}", text):
        raise Reply("13")
    day, month, yy, serial = int(text[6:8]), int(text[8:10]), int(text[10:12]), text[12:]
    if day > 40:
        day -= 40
    if text[0:2] == "00" or text[2:4] == "00" or text[4:6] == "00" or serial == "0000" or not 1 <= month <= 12:
        raise Reply("13")
    if not any(_exists(century + yy, month, day) for century in (1900, 2000)):
        raise Reply("13")
    return text


def _exists(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


# --- verify ---------------------------------------------------------------------------------------------------------
_PUNCT = re.compile(r"[^0-9A-Z ]+")
_SPACES = re.compile(r"\s+")


def _text(value: Any) -> str:
    return _SPACES.sub(" ", str(value).upper()).strip()


def _loose(value: Any) -> str:
    return _SPACES.sub(" ", _PUNCT.sub(" ", _text(value))).strip()


def parse_claimed_date(value: Any) -> dt.date | None:
    text = _text(value)
    for pattern in ("%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            pass
    return None


def _sex(value: Any) -> str | None:
    text = _loose(value)
    return {"L": "L", "LAKI LAKI": "L", "LAKI": "L", "PRIA": "L", "P": "P", "PEREMPUAN": "P", "WANITA": "P"}.get(text)


def similarity(a: Any, b: Any) -> int:
    """0–100, difflib's ratio of the two texts after normalisation."""
    return round(difflib.SequenceMatcher(None, _loose(a), _loose(b)).ratio() * 100)


def verdict(field_name: str, claimed: Any, held: Any, person: Person, threshold: int) -> str:
    if field_name in FUZZY_FIELDS:
        score = similarity(claimed, held)
        return f"{'Sesuai' if score >= threshold else 'Tidak Sesuai'} ({score})"
    if field_name == "TGL_LHR":
        same = parse_claimed_date(claimed) == person.birth_date
    elif field_name == "JENIS_KLMIN":
        same = _sex(claimed) == person.sex
    elif field_name in NUMERIC_FIELDS:
        a, b = _text(claimed), _text(held if held is not None else "")
        same = a.isdigit() and b.isdigit() and int(a) == int(b)
    else:
        same = held is not None and _loose(claimed) == _loose(held)
    return "Sesuai" if same else "Tidak Sesuai"


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
    institution_active: bool = True,
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
        if creds.user_id != user_id or creds.password != password or not user_active or not institution_active:
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
