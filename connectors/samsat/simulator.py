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
import re
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
from connectors.samsat.provinces import PROVINCES
from connectors.samsat.simdata import SWDKLLJ, Owner, SamsatState, Vehicle
from connectors.samsat.tax_calendar import on_anniversary
from connectors.simkit.control import SimControl, install
from identity.clock import WIB, today_wib

Amounts = Literal["int", "string"]

if TYPE_CHECKING:
    from connectors.simkit.population import Population

DEFAULT_API_KEY = "samsat-demo-api-key"


def amount(value: int, style: Amounts) -> int | str:
    return f"{value}.00" if style == "string" else value


PATH_LOOKUP = PROVINCES["jabar"].path_lookup  # the province this simulator speaks
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
        "tg_kepemilikan": on_anniversary(vehicle.year, vehicle.anniversary).isoformat(),
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
        return today or today_wib()

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


def contract_samples(population: Population) -> dict[str, Any]:
    """What the contract kit (connectors/contract) asks this simulator:a vehicle owner's NIK and a payment code for
    their first vehicle's tax due now."""
    today = today_wib()
    owner = next(iter(SamsatState(population).owners.values()))
    vehicle = owner.vehicles[0]
    return {
        "found": owner.nik,
        "service": "pkb_payment",
        "payload": {"nik": owner.nik, "plate": vehicle.plate, "year": vehicle.pkb_due(today).year},
    }
