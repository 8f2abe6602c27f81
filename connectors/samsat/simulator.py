"""A simulator of Samsat speaking West Java's reply shape (shared/agency-evidence/README.md, "Samsat"), with the
parts no public source shows designed by us (see `connectors/samsat/provinces.py` for which is which).

`POST /api/v1/info-pajak` with `{"no_polisi": "D UBX 4127"}` (a plate; "D 4127 UBX" is read too) or, unless
`by_nik=False`, `{"no_ktp": "<NIK>"}` ([?] ours: no public by-NIK lookup is known) → West Java's envelope
`{"code": "0000", "success": true, "data": {"data_wp": {…}, "list_kbm": [{…}]}, "message": "Sukses", "param":
{…}}`: the owner with trailing spaces and `" "` for blanks, each vehicle with `data_tnkb`, `no_polisi`
"D-4127-UBX", `no_polisi2`, `kd_plat` "1", `nm_merek`, `nm_model_kb`, `th_rakitan` (a string), `jumlah_cc` "110 ",
`jenis_kb`, `tg_akhir_pajak` (ISO) and `tg_akhir_pajak2` (dd-mm-yyyy), `tg_akhir_stnkb`, `kd_wil`, `nm_wil`. No
amounts (the public reply shows none). Not found: `{"code": "0001", "success": false, …, "data": null}` (ours).

Data is derived per person with `population.rng(person, "samsat")`: about half of adults own one to three vehicles
(mostly motorcycles), plated in their province; about 5 % of owners are written differently on the BPKB (a title
such as H./HJ., a shortened last name), so the record's conflict report has something to show. Due dates follow
the calendar (option `today`, default the current WIB day) so the demo always shows some tax due soon and some
overdue; the vehicles themselves depend only on the seed.

The payment code (`POST /api/v1/pkb/kode-bayar`) and the `GET /api/v1/status` health call are our design.
Options: `api_key` (the key Samsat accepts); `amounts` "int" (JSON integers of rupiah, the default) or "string"
("1250000.00") for the payment code's amounts; `today` to pin the calendar in tests; `by_nik` whether the by-NIK
lookup is offered. Faults: besides down/slow/garbage, "error" answers 0500; `empty_success` answers a "0000"
success whose `list_kbm` is empty (what a connector must never read as "no vehicles").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from connectors.samsat.client import (
    API_KEY_HEADER,
    BAD_KEY,
    BAD_REQUEST,
    CODE_STATUS,
    IDEMPOTENCY_HEADER,
    INTERNAL,
    NOT_FOUND,
    OK,
    PATH_PAYMENT_CODE,
    PATH_STATUS,
    REFUSED,
)
from connectors.simkit.control import SimControl, install
from identity.clock import WIB

if TYPE_CHECKING:
    from connectors.simkit.population import Person, Population

DEFAULT_API_KEY = "samsat-demo-api-key"
OWNER_SHARE = 0.50
VARIANT_SHARE = 0.05
DATA_YEAR = 2024  # newest model year: keeps vehicles independent of the calendar
SWDKLLJ = {"R2": 35_000, "R4": 143_000}  # Jasa Raharja contribution, private motorcycle / passenger car
LATE_FINE_PERCENT_PER_MONTH = 2
LATE_FINE_MAX_MONTHS = 24

MOTORCYCLES = (
    ("HONDA", "BEAT", 190_000),
    ("HONDA", "VARIO 125", 260_000),
    ("HONDA", "SCOOPY", 230_000),
    ("HONDA", "PCX 160", 420_000),
    ("YAMAHA", "NMAX", 410_000),
    ("YAMAHA", "MIO M3", 180_000),
    ("YAMAHA", "AEROX 155", 380_000),
    ("SUZUKI", "NEX II", 170_000),
)
CARS = (
    ("TOYOTA", "AVANZA 1.3 G", 2_650_000),
    ("TOYOTA", "INNOVA 2.0 G", 4_900_000),
    ("TOYOTA", "RUSH", 3_600_000),
    ("DAIHATSU", "XENIA", 2_500_000),
    ("DAIHATSU", "SIGRA", 1_700_000),
    ("HONDA", "BRIO", 1_900_000),
    ("HONDA", "HR-V", 4_700_000),
    ("MITSUBISHI", "XPANDER", 3_400_000),
    ("SUZUKI", "ERTIGA", 2_900_000),
)
COLOURS = ("HITAM", "PUTIH", "MERAH", "ABU-ABU", "SILVER", "BIRU")
PLATE_AREAS = {
    "11": "BL",
    "12": "BK",
    "13": "BA",
    "14": "BM",
    "15": "BH",
    "16": "BG",
    "17": "BD",
    "18": "BE",
    "19": "BN",
    "21": "BP",
    "31": "B",
    "32": "D",
    "33": "H",
    "34": "AB",
    "35": "L",
    "36": "A",
    "51": "DK",
    "52": "DR",
    "53": "DH",
    "61": "KB",
    "62": "KH",
    "63": "DA",
    "64": "KT",
    "65": "KU",
    "71": "DB",
    "72": "DN",
    "73": "DD",
    "74": "DT",
    "75": "DM",
    "76": "DC",
    "81": "DE",
    "82": "DG",
}
JABODETABEK = {"32.01", "32.16", "32.71", "32.75", "32.76", "36.03", "36.71", "36.74"}  # plated "B"
SERIES_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"

Amounts = Literal["int", "string"]


@dataclass(frozen=True)
class Vehicle:
    """One registered vehicle; due dates are computed against a day, everything else is fixed per seed."""

    area: str
    number: str
    series: str
    kind: str  # R2 motorcycle, R4 car
    brand: str
    model: str
    year: int
    colour: str
    anniversary: tuple[int, int]  # month, day of first registration: the PKB falls due on it every year
    arrears_years: int  # 0 normally; 1 for the few who skipped last year's tax
    base_pkb: int

    @property
    def plate(self) -> str:
        return " ".join(p for p in (self.area, self.number, self.series) if p)

    def pkb_due(self, today: dt.date) -> dt.date:
        """The next unpaid due date: this year's anniversary unless it passed more than 60 days ago."""
        due = _on(today.year, self.anniversary)
        if due < today - dt.timedelta(days=60):
            due = _on(today.year + 1, self.anniversary)
        return _on(due.year - self.arrears_years, self.anniversary)

    def stnk_until(self, today: dt.date) -> dt.date:
        """STNK runs five years from first registration, renewed in five-year steps."""
        due_year = self.pkb_due(today).year
        first = self.year
        steps = max(1, -(-(due_year - first) // 5))
        return _on(first + 5 * steps, self.anniversary)

    def pkb(self, today: dt.date) -> int:
        """PKB in whole rupiah: the base falls 2 % per year of age (at most 40 %), rounded down to 100."""
        age = max(0, self.pkb_due(today).year - self.year)
        return self.base_pkb * (100 - min(2 * age, 40)) // 100 // 100 * 100

    def late_fine(self, today: dt.date) -> int:
        """2 % of the PKB per started month overdue, at most 24 months."""
        due = self.pkb_due(today)
        if today <= due:
            return 0
        months = min(
            LATE_FINE_MAX_MONTHS,
            (today.year - due.year) * 12 + today.month - due.month + (1 if today.day > due.day else 0),
        )
        return self.pkb(today) * LATE_FINE_PERCENT_PER_MONTH * max(months, 1) // 100


@dataclass(frozen=True)
class Owner:
    nik: str
    name: str
    vehicles: tuple[Vehicle, ...]
    street: str = ""
    office: str = ""


def _on(year: int, anniversary: tuple[int, int]) -> dt.date:
    month, day = anniversary
    return dt.date(year, month, min(day, 28) if month == 2 else day)


def bpkb_spelling(name: str, sex: str, rng: random.Random) -> str:
    """The name as a BPKB might carry it: with a pilgrim's title, or with the last name cut to its initial."""
    words = name.split()
    if len(words) >= 2 and rng.random() < 0.5:
        return " ".join(words[:-1] + [words[-1][0]])
    return ("H. " if sex == "L" else "HJ. ") + name


def owner_of(population: Population, person: Person) -> Owner | None:
    """What Samsat holds about `person`, or None when no vehicle is registered to them."""
    rng = population.rng(person, "samsat")
    if rng.random() >= OWNER_SHARE or person.birth_date.year > DATA_YEAR - 17:
        return None
    name = bpkb_spelling(person.name, person.sex, rng) if rng.random() < VARIANT_SHARE else person.name
    count = rng.choices((1, 2, 3), (0.70, 0.22, 0.08))[0]
    area = "B" if person.regency_code in JABODETABEK else PLATE_AREAS.get(person.province_code, "B")
    vehicles = tuple(_vehicle(rng, area, person.birth_date.year + 17) for _ in range(count))
    office = person.regency.upper().replace("KABUPATEN ", "").replace("KOTA ", "")
    return Owner(nik=person.nik, name=name, vehicles=vehicles, street=person.street, office=office)


def _vehicle(rng: random.Random, area: str, earliest_year: int) -> Vehicle:
    kind = "R2" if rng.random() < 0.72 else "R4"
    brand, model, base = rng.choice(MOTORCYCLES if kind == "R2" else CARS)
    return Vehicle(
        area=area,
        number=str(rng.randint(1, 9999)),
        series="".join(rng.choice(SERIES_LETTERS) for _ in range(rng.choice((1, 2, 2, 3, 3)))),
        kind=kind,
        brand=brand,
        model=model,
        year=rng.randint(max(2008, min(earliest_year, DATA_YEAR)), DATA_YEAR),
        colour=rng.choice(COLOURS),
        anniversary=(rng.randint(1, 12), rng.randint(1, 28)),
        arrears_years=1 if rng.random() < 0.05 else 0,
        base_pkb=base,
    )


def amount(value: int, style: Amounts) -> int | str:
    return f"{value}.00" if style == "string" else value


PATH_LOOKUP = "/api/v1/info-pajak"
CC = {"R2": "110 ", "R4": "1329 "}


def owner_fields(owner: Owner) -> dict[str, Any]:
    """West Java's `data_wp`: the owner, padded with a trailing space, blanks as " " or ""."""
    return {
        "no_ktp": owner.nik + " ",
        "nm_pemilik": owner.name + " ",
        "nm_kota_lhr": "",
        "tgl_lahir": "",
        "no_kk": "",
        "al_pemilik": owner.street + " ",
        "rt": " ",
        "rw": " ",
        "nm_kelurahan": "",
        "kd_kec": "",
        "nm_kecamatan": "",
        "kd_kota": "",
        "nm_kota": owner.office + " ",
        "email": "",
        "no_hp": " ",
    }


def vehicle_fields(owner: Owner, vehicle: Vehicle, today: dt.date) -> dict[str, Any]:
    """One `list_kbm` item as West Java sends it: ISO dates plus dd-mm-yyyy, codes and numbers as strings."""
    due, stnk = vehicle.pkb_due(today), vehicle.stnk_until(today)
    return {
        "no_ktp": owner.nik + " ",
        "rt": " ",
        "rw": " ",
        "data_tnkb": {"tnkb_daerah": vehicle.area, "tnkb_subdaerah": vehicle.series, "tnkb_nomor": vehicle.number},
        "no_polisi": "-".join(p for p in (vehicle.area, vehicle.number, vehicle.series) if p),
        "no_polisi2": " ".join(p for p in (vehicle.area, vehicle.series, vehicle.number) if p),
        "kd_plat": "1",
        "nm_pemilik": owner.name + " ",
        "al_pemilik": owner.street,
        "nm_merek": vehicle.brand + " ",
        "nm_model_kb": vehicle.model + " ",
        "tg_kepemilikan": _on(vehicle.year, vehicle.anniversary).isoformat(),
        "tg_akhir_pajak": due.isoformat(),
        "tg_akhir_pajak2": f"{due:%d-%m-%Y}",
        "th_rakitan": str(vehicle.year),
        "jumlah_cc": CC[vehicle.kind],
        "milik_ke": "1",
        "kd_blockir": " ",
        "kd_blockir_baru": "0",
        "jenis_kb": vehicle.kind,
        "kd_wil": "12000",
        "nm_wil": owner.office + " ",
        "tg_akhir_stnkb": stnk.isoformat(),
        "no_hp": " ",
        "email": "",
    }


def jabar_reply(owner: Owner, vehicles: tuple[Vehicle, ...], today: dt.date, param: dict[str, str]) -> JSONResponse:
    return JSONResponse(
        {
            "code": OK,
            "success": True,
            "data": {"data_wp": owner_fields(owner), "list_kbm": [vehicle_fields(owner, v, today) for v in vehicles]},
            "message": "Sukses",
            "param": param,
        }
    )


def parse_plate(text: Any) -> tuple[str, str, str] | None:
    """ "D UBX 4127" (West Java's echo: area, series, number) or "D 4127 UBX" → (area, number, series)."""
    if not isinstance(text, str):
        return None
    plate = " ".join(text.upper().replace("-", " ").split())
    match = re.fullmatch(r"([A-Z]{1,2}) ([A-Z]{1,3}) ([0-9]{1,4})", plate)
    if match:
        return match.group(1), match.group(3), match.group(2)
    match = re.fullmatch(r"([A-Z]{1,2}) ?([0-9]{1,4}) ?([A-Z]{0,3})", plate)
    return (match.group(1), match.group(2), match.group(3)) if match else None


class SamsatState:
    """Owners by NIK and vehicles by plate (built once), payment codes by idempotency key."""

    def __init__(self, population: Population):
        self.owners: dict[str, Owner] = {}
        self.by_plate: dict[tuple[str, str, str], tuple[Owner, Vehicle]] = {}
        for person in population.people:
            owner = owner_of(population, person)
            if owner is None:
                continue
            kept = tuple(v for v in owner.vehicles if (v.area, v.number, v.series) not in self.by_plate)
            owner = Owner(nik=owner.nik, name=owner.name, vehicles=kept)  # a plate belongs to one vehicle
            self.owners[owner.nik] = owner
            self.by_plate.update({(v.area, v.number, v.series): (owner, v) for v in kept})
        self.payments: dict[str, tuple[str, dict[str, Any]]] = {}


class Refusal(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def envelope(code: str, message: str, data: Any = None) -> JSONResponse:
    return JSONResponse(
        {"code": code, "success": code == OK, "message": message, "data": data}, status_code=CODE_STATUS.get(code, 200)
    )


def _field(body: dict[str, Any], key: str, pattern: str) -> str:
    value = body.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not re.fullmatch(pattern, value.strip().upper()):
        raise Refusal(BAD_REQUEST, f"Parameter {key} tidak valid")
    return value.strip().upper()


def simulator(
    population: Population,
    *,
    api_key: str = DEFAULT_API_KEY,
    amounts: Amounts = "int",
    today: dt.date | None = None,
    by_nik: bool = True,
) -> FastAPI:
    """A Samsat simulator over `population` as a FastAPI app (`app.state.control` drives its faults)."""
    if amounts not in ("int", "string"):
        raise ValueError("amounts must be 'int' or 'string'")
    state = SamsatState(population)
    app = FastAPI(title="Samsat simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.control = SimControl()
    app.state.samsat = state

    def day() -> dt.date:
        return today or dt.datetime.now(WIB).date()

    install(
        app,
        app.state.control,
        error_reply=lambda request: envelope(INTERNAL, "Terjadi kesalahan internal"),
        garbage_body=b'{"code": "0000", "success": true, "data": {"data_wp": {"no_ktp": "3273',
        replies={
            "empty_success": lambda request: JSONResponse(
                {"code": OK, "success": True, "data": {"data_wp": {}, "list_kbm": []}, "message": "Sukses", "param": {}}
            )
        },
    )

    async def authorised_json(request: Request) -> dict[str, Any]:
        if request.headers.get(API_KEY_HEADER) != api_key:
            raise Refusal(BAD_KEY, "API key tidak valid")
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise Refusal(BAD_REQUEST, "Body bukan JSON yang valid") from None
        if not isinstance(body, dict):
            raise Refusal(BAD_REQUEST, "Body harus objek JSON")
        return body

    @app.exception_handler(Refusal)
    async def refused(request: Request, refusal: Refusal) -> JSONResponse:
        return envelope(refusal.code, refusal.message)

    @app.get(PATH_STATUS)
    async def status(request: Request) -> JSONResponse:
        if request.headers.get(API_KEY_HEADER) != api_key:
            raise Refusal(BAD_KEY, "API key tidak valid")
        return envelope(OK, "Sukses", {"status": "UP", "waktu": dt.datetime.now(WIB).isoformat(timespec="seconds")})

    @app.post(PATH_LOOKUP)
    async def lookup(request: Request) -> JSONResponse:
        body = await authorised_json(request)
        if "no_polisi" in body:
            plate = parse_plate(body["no_polisi"])
            if plate is None:
                raise Refusal(BAD_REQUEST, "Parameter no_polisi tidak valid")
            found = state.by_plate.get(plate)
            if found is None:
                return envelope(NOT_FOUND, "Data kendaraan tidak ditemukan")
            owner, vehicle = found
            return jabar_reply(owner, (vehicle,), day(), {"no_polisi": str(body["no_polisi"])})
        if by_nik and "no_ktp" in body:
            nik = _field(body, "no_ktp", r"[0-9]{16}")
            holder = state.owners.get(nik)
            if holder is None or not holder.vehicles:
                return envelope(NOT_FOUND, "Data kendaraan tidak ditemukan")
            return jabar_reply(holder, holder.vehicles, day(), {"no_ktp": nik})
        raise Refusal(BAD_REQUEST, "Parameter no_polisi wajib diisi" + ("" if not by_nik else " (atau no_ktp)"))

    @app.post(PATH_PAYMENT_CODE)
    async def payment_code(request: Request) -> JSONResponse:
        body = await authorised_json(request)
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key or len(key) > 200:
            raise Refusal(BAD_REQUEST, f"Header {IDEMPOTENCY_HEADER} wajib diisi")
        app.state.control.record_submission(key)
        fingerprint = json.dumps(body, sort_keys=True)
        if key in state.payments:
            seen, data = state.payments[key]
            if seen != fingerprint:
                raise Refusal(BAD_REQUEST, f"{IDEMPOTENCY_HEADER} sudah dipakai untuk permintaan lain")
            return envelope(OK, "Kode bayar sudah diterbitkan sebelumnya", data)
        data = issue_payment_code(state, body, key, day(), amounts)
        state.payments[key] = (fingerprint, data)
        return envelope(OK, "Kode bayar diterbitkan", data)

    return app


def issue_payment_code(
    state: SamsatState, body: dict[str, Any], key: str, today: dt.date, style: Amounts
) -> dict[str, Any]:
    """A kode bayar for the PKB of one plate and tax year, after checking owner and year."""
    nik = _field(body, "nik", r"[0-9]{16}")
    plate = (
        _field(body, "kode_wilayah", r"[A-Z]{1,2}"),
        _field(body, "nomor", r"[1-9][0-9]{0,3}"),
        str(body.get("seri") or "").strip().upper(),
    )
    year = body.get("tahun_pajak")
    if not isinstance(year, int) or isinstance(year, bool):
        raise Refusal(BAD_REQUEST, "Parameter tahun_pajak tidak valid")
    found = state.by_plate.get(plate)
    if found is None:
        raise Refusal(NOT_FOUND, "Data kendaraan tidak ditemukan")
    owner, vehicle = found
    if owner.nik != nik:
        raise Refusal(REFUSED, "Kendaraan tidak terdaftar atas NIK pemohon")
    due = vehicle.pkb_due(today)
    if year != due.year:
        reason = "belum jatuh tempo" if year > due.year else "sudah lunas"
        raise Refusal(REFUSED, f"PKB tahun {year} {reason}")
    pkb, swdkllj, fine = vehicle.pkb(today), SWDKLLJ[vehicle.kind], vehicle.late_fine(today)
    digest = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    return {
        "kode_bayar": f"{digest % 10**16:016d}",
        "nopol": vehicle.plate,
        "tahun_pajak": year,
        "pkb": amount(pkb, style),
        "swdkllj": amount(swdkllj, style),
        "denda_pkb": amount(fine, style),
        "total": amount(pkb + swdkllj + fine, style),
        "berlaku_sampai": dt.datetime.combine(today + dt.timedelta(days=1), dt.time(23, 59, 59), WIB).isoformat(),
    }


def sim_config(base_url: str) -> dict[str, str]:
    """Client settings that reach a simulator at `base_url` with its default demo key; the simulator offers the
    lookup by NIK ([?] for the real West Java service), so the demo's record shows vehicles."""
    return {"url": base_url, "api_key": DEFAULT_API_KEY, "province": "jabar", "lookup_by": "plate,nik"}
