"""A Dukcapil (civil registry) web-service simulator: a real HTTP server speaking the gateway's REST JSON dialect.

Endpoints (both POST, JSON body, reply HTTP 200 with the Spring-page envelope whatever the outcome):

`/dukcapil/get_json/{institution}/CALL_NIK` — full data by NIK. Body, keys exactly so (lower-case credentials)::

    {"NIK": "3276015505850003", "user_id": "…", "password": "…", "ip_user": "127.0.0.1"}

`NIK` may be a JSON string or a JSON number.

`/dukcapil/get_json/{institution}/CALL_VERIFY_BY_ELEMEN` — per-field match. Credentials in UPPER case, `TRESHOLD`
(spelled so, 0–100, string or number, default 80) and any subset of the full-data fields::

    {"USER_ID": "…", "PASSWORD": "…", "IP_USER": "127.0.0.1", "TRESHOLD": "80", "NIK": "3276…",
     "NAMA_LGKP": "Siti Aminah", "TGL_LHR": "15-05-1985", "JENIS_KLMIN": "Perempuan"}

Reply envelope: `{"content": [item, …], "lastPage", "numberOfElements", "totalElements", "firstPage", "number",
"size", "quotaLimiter"}`; `quotaLimiter` is what is left of the institution's daily quota after this call.

Following the public facts (docs agencies.md): upper-case values; names sometimes with trailing spaces (for about
a third of people, decided per person); NIK and NO_KK as JSON *numbers* of 16 digits; TGL_LHR as `15.05.1985`
(date_format="dotted"), `15-MAY-85` ("oracle") or `1985-05-15` ("iso"); not found as
`{"RESPON": "Data Tidak Ditemukan"}`; the response codes 01–17; an IP allow-list and a daily quota per institution.

Where the public facts are silent, this simulator decides (a client must not rely on more than the facts above):
- Every item carries `RESPONSE_CODE` (a two-digit string). Items that are not plain data (code ≠ 01) also carry
  `RESPON`, a message in Indonesian. A client should accept a bare `{"RESPON": "Data Tidak Ditemukan"}` too.
- 11 (deceased): the full data plus `RESPONSE_CODE` "11" and `RESPON`. 14 (inactive): `RESPON` and the code only,
  no data (a deactivated NIK — duplicate, cancelled — has no current record to show). 13: not found (also for the
  few valid NIKs of the population Dukcapil does not know). 15: sixteen digits that cannot be a NIK (bad date or
  day code, serial 0000, region code 00). 08: a NIK field that is not sixteen digits at all. 07: body not a JSON
  object, no NIK, bad TRESHOLD, or nothing to verify.
- Checks run in this order, the first failure answers: institution unknown or inactive (16) → body (07) →
  credentials empty (09) → caller's address not on the allow-list (10) → `ip_user` not on the allow-list (04) →
  user id or password wrong (03) → user inactive (17) → outside access hours (06) → quota used up (05) → NIK
  (07/08/15) → the person (13/14/11/01). Every call that gets past the quota check uses one unit of quota.
- The quota resets at midnight Asia/Jakarta (WIB, UTC+7, no daylight saving).
- NO_PROP, NO_KAB, NO_KEC, NO_KEL are the segments of the Kemendagri code as strings ("32", "76", "01", "1001");
  NO_RT and NO_RW are three-digit strings; DUSUN, KODE_POS and NO_AKTA_LHR are null when there is none.
- Verify answers "Sesuai" / "Tidak Sesuai" per requested field; the fuzzy fields (NAMA_LGKP, ALAMAT, TMPT_LHR and
  the parents' names) answer "Sesuai (92)" / "Tidak Sesuai (41)": difflib similarity × 100 against TRESHOLD,
  after upper-casing and collapsing spaces and punctuation. Dates are accepted as dd-mm-yyyy, dd.mm.yyyy,
  yyyy-mm-dd, dd/mm/yyyy or dd-MON-yy; sex as L/P or LAKI-LAKI/PEREMPUAN; numbers with or without leading zeros.
  Unknown field names are ignored. A deceased person's verdicts come with code 11; an inactive NIK gets 14 only.
- The fault control's "error" mode answers code 08 ("NIK tidak dapat diproses"), Dukcapil's answer when its
  back end cannot serve a request; "garbage" answers a truncated JSON body.
Dukcapil takes no submissions: there is no such endpoint.
"""

from __future__ import annotations

import ipaddress

import datetime as dt
import difflib
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI, Request, Response

from connectors.simkit.control import SimControl, install
from connectors.simkit.population import Person, Population

DateFormat = Literal["dotted", "oracle", "iso"]

DEFAULT_INSTITUTION = "GERBANG"
DEFAULT_USER_ID = "20240814GERBANG0001"
DEFAULT_PASSWORD = "sim-dukcapil-2024"
DEFAULT_IP = "127.0.0.1"
DEFAULT_THRESHOLD = 80
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
MEDIA_TYPE = "application/json;charset=UTF-8"

MESSAGES = {
    "01": "Data Ditemukan",
    "03": "Login Gagal, User Id atau Password salah",
    "04": "IP Address tidak sesuai",
    "05": "Kuota akses harian sudah habis",
    "06": "Di luar jam akses layanan",
    "07": "Permintaan tidak lengkap",
    "08": "NIK tidak dapat diproses",
    "09": "User Id, Password dan IP User harus diisi",
    "10": "IP Address belum terdaftar",
    "11": "Data Ditemukan, Status Meninggal Dunia",
    "12": "Data Ditemukan, Data Ganda",
    "13": "Data Tidak Ditemukan",
    "14": "NIK Tidak Aktif",
    "15": "NIK tidak valid",
    "16": "Instansi tidak aktif",
    "17": "User Id tidak aktif",
}
FULL_FIELDS = ("NIK", "NO_KK", "NAMA_LGKP", "JENIS_KLMIN", "TMPT_LHR", "TGL_LHR", "NO_AKTA_LHR", "ALAMAT", "NO_RT",
               "NO_RW", "KEL_NAME", "NO_KEL", "KEC_NAME", "NO_KEC", "KAB_NAME", "NO_KAB", "PROP_NAME", "NO_PROP",
               "KODE_POS", "DUSUN", "AGAMA", "GOL_DARAH", "JENIS_PKRJN", "PDDK_AKH", "STATUS_KAWIN", "STAT_HBKEL",
               "NAMA_LGKP_AYAH", "NAMA_LGKP_IBU", "EKTP_STATUS")
FUZZY_FIELDS = frozenset({"NAMA_LGKP", "ALAMAT", "TMPT_LHR", "NAMA_LGKP_AYAH", "NAMA_LGKP_IBU"})
NUMERIC_FIELDS = frozenset({"NIK", "NO_KK", "NO_RT", "NO_RW", "NO_KEL", "NO_KEC", "NO_KAB", "NO_PROP", "KODE_POS"})
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


class Reply(Exception):
    """Stops a request with a Dukcapil response code (raised by the checks, turned into the envelope)."""

    def __init__(self, code: str, message: str | None = None):
        super().__init__(code)
        self.code = code
        self.message = message or MESSAGES[code]


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
                raise Reply("05")
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
    if date_format == "oracle":  # Oracle's default DD-MON-RR
        return f"{date.day:02d}-{MONTHS[date.month - 1]}-{date.year % 100:02d}"
    return date.isoformat()


def person_fields(population: Population, person: Person, date_format: DateFormat) -> dict[str, Any]:
    """The person as Dukcapil's full-data item: upper case, NIK and NO_KK as numbers, per-person trailing spaces."""
    quirks = population.rng(person, "dukcapil")
    name_pad = " " * quirks.choice((1, 1, 2, 3)) if quirks.random() < 0.35 else ""
    parents_pad = " " if quirks.random() < 0.2 else ""
    _, regency, district, village = person.village_code.split(".")
    return {
        "NIK": int(person.nik),
        "NO_KK": int(person.kk_number),
        "NAMA_LGKP": person.name + name_pad,
        "JENIS_KLMIN": "LAKI-LAKI" if person.sex == "L" else "PEREMPUAN",
        "TMPT_LHR": person.birth_place,
        "TGL_LHR": format_date(person.birth_date, date_format),
        "NO_AKTA_LHR": person.birth_certificate_no,
        "ALAMAT": person.street,
        "NO_RT": person.rt,
        "NO_RW": person.rw,
        "KEL_NAME": person.village,
        "NO_KEL": village,
        "KEC_NAME": person.district,
        "NO_KEC": district,
        "KAB_NAME": person.regency,
        "NO_KAB": regency,
        "PROP_NAME": person.province,
        "NO_PROP": person.province_code,
        "KODE_POS": person.postal_code,
        "DUSUN": person.hamlet,
        "AGAMA": person.religion,
        "GOL_DARAH": person.blood_type,
        "JENIS_PKRJN": person.occupation,
        "PDDK_AKH": person.education,
        "STATUS_KAWIN": person.marital_status,
        "STAT_HBKEL": person.family_role,
        "NAMA_LGKP_AYAH": person.father_name + parents_pad,
        "NAMA_LGKP_IBU": person.mother_name + parents_pad,
        "EKTP_STATUS": person.ektp_status,
    }


def envelope(items: list[dict[str, Any]], quota_left: int) -> dict[str, Any]:
    """Spring Data's page wrapper, as the gateway sends it."""
    return {"content": items, "lastPage": True, "numberOfElements": len(items), "sort": None,
            "totalElements": len(items), "firstPage": True, "number": 0, "size": max(len(items), 1),
            "quotaLimiter": quota_left}


def json_reply(payload: Mapping[str, Any]) -> Response:
    # Python writes ints exactly, so NIK and NO_KK go out as 16-digit JSON numbers, never through a float.
    return Response(json.dumps(payload, ensure_ascii=False).encode("utf-8"), media_type=MEDIA_TYPE)


def code_item(code: str, message: str | None = None) -> dict[str, Any]:
    return {"RESPON": message or MESSAGES[code], "RESPONSE_CODE": code}


# --- NIK structure (the simulator checks on its own: connectors do not depend on identity/) ---------------------
def nik_code(value: Any) -> str:
    """The NIK as 16 digits, or Reply 07 (missing) / 08 (not 16 digits) / 15 (structurally impossible)."""
    if value is None or value == "":
        raise Reply("07")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Reply("08")
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{16}", text):
        raise Reply("08")
    day, month, yy, serial = int(text[6:8]), int(text[8:10]), int(text[10:12]), text[12:]
    if day > 40:
        day -= 40
    if text[0:2] == "00" or text[2:4] == "00" or text[4:6] == "00" or serial == "0000" or not 1 <= month <= 12:
        raise Reply("15")
    if not any(_exists(century + yy, month, day) for century in (1900, 2000)):
        raise Reply("15")
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
    match = re.fullmatch(r"(\d{2})-([A-Z]{3})-(\d{2})", text)
    if match and match.group(2) in MONTHS:
        yy = int(match.group(3))
        year = 2000 + yy if 2000 + yy <= dt.date.today().year else 1900 + yy
        if _exists(year, MONTHS.index(match.group(2)) + 1, int(match.group(1))):
            return dt.date(year, MONTHS.index(match.group(2)) + 1, int(match.group(1)))
    return None


def _sex(value: Any) -> str | None:
    text = _loose(value)
    return {"L": "L", "LAKI LAKI": "L", "LAKI": "L", "PRIA": "L", "P": "P", "PEREMPUAN": "P",
            "WANITA": "P"}.get(text)


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


def simulator(population: Population, *, institution: str = DEFAULT_INSTITUTION, user_id: str = DEFAULT_USER_ID,
              password: str = DEFAULT_PASSWORD, ip_allow: Iterable[str] = (DEFAULT_IP,), daily_quota: int = 10_000,
              date_format: DateFormat = "dotted", access_hours: tuple[int, int] | None = None,
              institution_active: bool = True, user_active: bool = True,
              clock: Callable[[], dt.datetime] | None = None) -> FastAPI:
    """The Dukcapil gateway for one institution, serving `population`.

    `access_hours=(7, 19)` answers 06 outside 07:00–19:00 WIB; `clock` (an aware-datetime callable) lets tests move
    time for the quota and the hours. `app.state.quota` is the institution's DailyQuota.
    """
    if date_format not in ("dotted", "oracle", "iso"):
        raise ValueError(f"date_format must be dotted, oracle or iso, not {date_format!r}")
    if daily_quota < 0:
        raise ValueError("daily_quota must not be negative")
    now = clock or (lambda: dt.datetime.now(dt.UTC))
    networks = [ipaddress.ip_network(entry, strict=False) for entry in ip_allow]

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
            raise Reply("09")
        client_host = request.client.host if request.client else ""
        if not allowed_ip(client_host):
            raise Reply("10")
        if not allowed_ip(creds.ip_user):
            raise Reply("04")
        if creds.user_id != user_id or creds.password != password:
            raise Reply("03")
        if not user_active:
            raise Reply("17")
        if access_hours is not None:
            start, end = access_hours
            if not start <= now().astimezone(WIB).hour < end:
                raise Reply("06", f"{MESSAGES['06']} ({start:02d}:00-{end:02d}:00 WIB)")

    async def read_body(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise Reply("07") from None
        if not isinstance(body, dict):
            raise Reply("07")
        return body

    def credentials(body: Mapping[str, Any], keys: tuple[str, str, str]) -> Credentials:
        values = [body.get(k) for k in keys]
        return Credentials(*(str(v).strip() if isinstance(v, (str, int)) and not isinstance(v, bool) else ""
                             for v in values))

    def person_reply(nik: str, build: Callable[[Person], dict[str, Any]]) -> dict[str, Any]:
        person = population.by_nik(nik)
        if person is None or not person.in_dukcapil:
            return code_item("13")
        if person.life_status == "inactive":
            return code_item("14")
        item = build(person)
        if person.life_status == "deceased":
            item.update(code_item("11"))
        else:
            item["RESPONSE_CODE"] = "01"
        return item

    async def handle(request: Request, name: str, keys: tuple[str, str, str],
                     answer: Callable[[dict[str, Any]], dict[str, Any]]) -> Response:
        known = name == institution
        try:
            if not known or not institution_active:
                raise Reply("16")
            body = await read_body(request)
            check_access(request, credentials(body, keys))
            left = quota.take()
            return json_reply(envelope([answer(body)], left))
        except Reply as stop:
            return json_reply(envelope([code_item(stop.code, stop.message)], quota.remaining() if known else 0))

    def call_nik(body: dict[str, Any]) -> dict[str, Any]:
        try:
            nik = nik_code(body.get("NIK"))
        except Reply as stop:
            return code_item(stop.code, stop.message)
        return person_reply(nik, lambda p: person_fields(population, p, date_format))

    def call_verify(body: dict[str, Any]) -> dict[str, Any]:
        try:
            nik = nik_code(body.get("NIK"))
            threshold = _threshold(body.get("TRESHOLD", DEFAULT_THRESHOLD))
        except Reply as stop:
            return code_item(stop.code, stop.message)
        claims = {k: v for k, v in body.items() if k in FULL_FIELDS and k != "NIK" and v is not None}
        if not claims:
            return code_item("07")

        def verdicts(person: Person) -> dict[str, Any]:
            held = person_fields(population, person, "iso")
            return {k: verdict(k, v, held[k], person, threshold) for k, v in claims.items()}

        return person_reply(nik, verdicts)

    @app.post("/dukcapil/get_json/{name}/CALL_NIK")
    async def call_nik_route(name: str, request: Request) -> Response:
        return await handle(request, name, ("user_id", "password", "ip_user"), call_nik)

    @app.post("/dukcapil/get_json/{name}/CALL_VERIFY_BY_ELEMEN")
    async def call_verify_route(name: str, request: Request) -> Response:
        return await handle(request, name, ("USER_ID", "PASSWORD", "IP_USER"), call_verify)

    def error_reply(request: Request) -> Response:
        return json_reply(envelope([code_item("08")], quota.remaining()))

    install(app, control, error_reply=error_reply, garbage_body=b'{"content":[{"NIK":3276015505850003,"NAMA_LGKP":"',
            garbage_type=MEDIA_TYPE)
    return app


def _threshold(value: Any) -> int:
    if isinstance(value, bool):
        raise Reply("07", "TRESHOLD harus angka 0-100")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise Reply("07", "TRESHOLD harus angka 0-100") from None
    if not 0 <= number <= 100:
        raise Reply("07", "TRESHOLD harus angka 0-100")
    return number


def sim_config(base_url: str) -> dict[str, str]:
    """Client settings that talk to a simulator started with the defaults at `base_url`."""
    return {"url": base_url, "institution": DEFAULT_INSTITUTION, "user": DEFAULT_USER_ID,
            "password": DEFAULT_PASSWORD, "ip": DEFAULT_IP}
