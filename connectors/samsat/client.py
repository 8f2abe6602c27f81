"""Client of Samsat (vehicle registration and annual tax): a province's vehicles by plate or NIK, PKB payment codes.

Each province runs its own service; `connectors/samsat/provinces.py` holds what differs (the `province` setting,
default `jabar`, West Java: the one whose reply shape is public). Every reply is the envelope `{"code": "0000",
"success": true, "message": …, "data": …}`; the outcome is `code`; the HTTP status only mirrors its class, so a
4xx body is read for its code, while a 5xx is "unavailable" whatever its body says. A "0000" reply that lacks what
the province's reader needs (West Java: `data.data_wp` and a non-empty `data.list_kbm`) is an AgencyProtocolError,
**never "not found"**: a success silently read as "no vehicles" would tell a citizen they own nothing.

Lookups: West Java's public lookup is by plate. `lookup(nik)` (the record's vehicles facet) asks by NIK only where
the deployment says the province offers it (`lookup_by` = "nik" or "plate,nik"); otherwise it raises NotSupported
and the facet says why. `lookup_plates(nik, plates)` asks by plate (plates a counter passes) and keeps only the
vehicles registered to that NIK, so a plate never discloses someone else's vehicle.

Codes other than 0000 are our design ([?] unpublished): 0001 not found (lookup: not_found; payment:
AgencyRejected) · 0002 bad request, 0003 refused (plate not owned, tax year not payable) → AgencyRejected · 0401 bad
API key, 0403 forbidden → AgencyAccessDenied · 05xx → AgencyUnavailable · anything else → AgencyProtocolError. So are
the payment-code call and the `X-API-Key` header (see `connectors/samsat/__init__.py`).

Amounts arrive as JSON integers of rupiah or decimal strings; a JSON number with a fraction is read as `Decimal`
(never `float`), so no rupiah is lost between Samsat and the counter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx

from connectors.base import (
    AgencyAccessDenied,
    AgencyProtocolError,
    AgencyRejected,
    AgencyUnavailable,
    FacetStatus,
    Health,
    LookupResult,
    NotSupported,
    SubmitResult,
    VerifyResult,
    probe_health,
)
from connectors.config import JSON_KEY, name_setting
from connectors.rest import client_from_settings, json_body, read_reply, send
from connectors.samsat.provinces import PROVINCES, Province, ShapeError, lookups

AGENCY = "samsat"
API_KEY_HEADER = "X-API-Key"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_PLATES = 10
_PATH = re.compile(r"/[A-Za-z0-9._~/-]{1,200}")
PATH_PAYMENT_CODE = "/api/v1/pkb/kode-bayar"
PATH_STATUS = "/api/v1/status"
SERVICE_PKB = "pkb_payment"

OK = "0000"
NOT_FOUND = "0001"
BAD_REQUEST = "0002"
REFUSED = "0003"
BAD_KEY = "0401"
FORBIDDEN = "0403"
INTERNAL = "0500"
MAINTENANCE = "0503"
CODE_STATUS = {
    OK: 200,
    NOT_FOUND: 404,
    BAD_REQUEST: 400,
    REFUSED: 422,
    BAD_KEY: 401,
    FORBIDDEN: 403,
    INTERNAL: 500,
    MAINTENANCE: 503,
}
"""Every code Samsat sends and the HTTP status that carries it."""

PLATE = re.compile(r"\s*([A-Z]{1,2})\s*([0-9]{1,4})\s*([A-Z]{0,3})\s*")
_MAX_TEXT = 200


def split_plate(plate: object) -> tuple[str, str, str]:
    """ "B 1234 XYZ" (or "B1234XYZ") → ("B", "1234", "XYZ"): Samsat keys a vehicle on these three parts."""
    match = PLATE.fullmatch(plate.upper()) if isinstance(plate, str) else None
    if match is None:
        raise ValueError("not an Indonesian registration plate (e.g. 'B 1234 XYZ')")
    area, number, series = match.groups()
    return area, number, series


def envelope_code(body: Any) -> str:
    """The envelope's four-digit code (an int is zero-padded, as some gateways drop the leading zeros)."""
    if not isinstance(body, dict) or "code" not in body:
        raise AgencyProtocolError(AGENCY, "reply is not a Samsat envelope")
    code = body["code"]
    if isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= 9999:
        return f"{code:04d}"
    if isinstance(code, str) and re.fullmatch(r"[0-9]{4}", code.strip()):
        return code.strip()
    raise AgencyProtocolError(AGENCY, "envelope code is not four digits")


def read_envelope(response: httpx.Response) -> tuple[str, Mapping[str, Any]]:
    """(code, envelope) of a reply, fractional numbers read as Decimal; not an envelope → AgencyProtocolError."""
    body = json_body(response, AGENCY, parse_float=Decimal)
    return envelope_code(body), body


def _message(body: Mapping[str, Any]) -> str:
    value = body.get("message")
    return str(value)[:_MAX_TEXT] if value not in (None, "") else ""


def raise_for_code(code: str, body: Mapping[str, Any], what: str) -> None:
    """Samsat's code → the bus's exception; 0000 (and 0001, which callers decide on) return quietly."""
    if code in (OK, NOT_FOUND):
        return
    message = _message(body)
    label = f"{what}: code {code}" + (f" ({message})" if message else "")
    if code in (BAD_REQUEST, REFUSED):
        raise AgencyRejected(AGENCY, label, code=code)
    if code in (BAD_KEY, FORBIDDEN):
        raise AgencyAccessDenied(AGENCY, f"{label}: API key refused", code=code)
    if code.startswith("05"):
        raise AgencyUnavailable(AGENCY, label, code=code)
    raise AgencyProtocolError(AGENCY, f"{label}: unknown code", code=code)


def _plain(value: Any) -> Any:
    """Amounts (int/Decimal) as exact text, so a submission's detail survives JSON storage unchanged."""
    if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    return value


def province_of(config: Mapping[str, str]) -> Province:
    """The `province` setting's profile (default jabar); an unknown province is a ValueError naming the known."""
    name = str(config.get("province") or "jabar").strip().lower()
    if name not in PROVINCES:
        raise ValueError(f"samsat: unknown province {name[:20]!r}; known: {', '.join(sorted(PROVINCES))}")
    return PROVINCES[name]


class SamsatClient:
    """The Samsat connector. Settings: `url` (base), `api_key`, `timeout_s` (optional), `province` (default jabar),
    and the province's defaults overridden per deployment: `lookup_by` (plate, nik, plate,nik), `path_lookup`,
    `key_plate`, `key_nik`."""

    name = AGENCY

    def __init__(self, config: Mapping[str, str], *, transport: httpx.AsyncBaseTransport | None = None):
        self.province = province_of(config)
        self.lookup_by = lookups(config.get("lookup_by"), self.province.lookup_by)
        self.path_lookup = name_setting(config, AGENCY, "path_lookup", self.province.path_lookup, _PATH)
        self.key_plate = name_setting(config, AGENCY, "key_plate", self.province.key_plate, JSON_KEY)
        self.key_nik = name_setting(config, AGENCY, "key_nik", self.province.key_nik, JSON_KEY)
        self._http = client_from_settings(config, AGENCY, key_headers={API_KEY_HEADER: "api_key"}, transport=transport)

    async def call(self, method: str, path: str, what: str, **kwargs: Any) -> tuple[str, Mapping[str, Any]]:
        """Send one request; returns (code, envelope) for 0000/0001 and raises for every other outcome."""
        response = await send(self._http, AGENCY, method, path, **kwargs)
        code, body = read_reply(response, AGENCY, what, read_envelope, kind="an envelope")
        raise_for_code(code, body, what)
        return code, body

    def _vehicles(self, code: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """The province's fields of a 0000 reply; a success without them is a protocol error, not "none"."""
        if body.get("success") is False:
            raise AgencyProtocolError(AGENCY, "code 0000 with success false", code=code)
        try:
            return self.province.read(body.get("data"))
        except ShapeError as exc:
            raise AgencyProtocolError(AGENCY, f"{self.province.code}: {exc}", code=code) from None

    async def lookup(self, nik: str) -> LookupResult:
        """Vehicles registered to `nik`, where the province offers a lookup by NIK; fields are the province's
        reply `data` (West Java: `data_wp`, `list_kbm`)."""
        if "nik" not in self.lookup_by:
            raise NotSupported(
                AGENCY,
                f"Samsat {self.province.title} looks vehicles up by plate, not by NIK "
                "(setting lookup_by): ask with the citizen's plates",
            )
        code, body = await self.call("POST", self.path_lookup, "vehicles by NIK", json={self.key_nik: nik})
        if code == NOT_FOUND:
            return LookupResult(
                agency=AGENCY, status=FacetStatus.not_found, agency_code=code, message=_message(body) or None
            )
        fields = self._vehicles(code, body)
        if any(owner != nik for owner in self.province.owner_niks(fields)):
            raise AgencyProtocolError(AGENCY, "reply is about another owner than the NIK asked", code=code)
        return LookupResult(
            agency=AGENCY, status=FacetStatus.ok, fields=fields, agency_code=code, message=_message(body) or None
        )

    async def lookup_plates(self, nik: str, plates: list[str]) -> LookupResult:
        """The vehicles among `plates` that are registered to `nik` (one call per plate); a plate Samsat does not
        know, or that belongs to someone else, is left out; none left → not_found."""
        if "plate" not in self.lookup_by:
            raise NotSupported(AGENCY, f"Samsat {self.province.title} is not configured for lookups by plate")
        if not plates or len(plates) > MAX_PLATES:
            raise AgencyRejected(AGENCY, f"give 1-{MAX_PLATES} plates", code="plates_invalid")
        try:
            parts = [split_plate(plate) for plate in plates]
        except ValueError as exc:
            raise AgencyRejected(AGENCY, str(exc), code="plates_invalid") from None
        kept: dict[str, Any] | None = None
        code = NOT_FOUND
        for area, number, series in parts:
            asked = self.province.plate_text(area, number, series)
            code_one, body = await self.call("POST", self.path_lookup, "vehicle by plate", json={self.key_plate: asked})
            if code_one == NOT_FOUND:
                continue
            mine = self.province.keep_vehicles(self._vehicles(code_one, body), nik)
            if not mine["list_kbm"]:
                continue
            code = code_one
            kept = mine if kept is None else {**kept, "list_kbm": [*kept["list_kbm"], *mine["list_kbm"]]}
        if kept is None:
            return LookupResult(
                agency=AGENCY,
                status=FacetStatus.not_found,
                agency_code=code,
                message="no vehicle among the plates is registered to this NIK",
            )
        return LookupResult(agency=AGENCY, status=FacetStatus.ok, fields=kept, agency_code=code)

    async def verify(self, nik: str, claims: Mapping[str, Any]) -> VerifyResult:
        raise NotSupported(AGENCY, "Samsat offers no per-field verification")

    async def submit(self, service: str, payload: Mapping[str, Any], idempotency_key: str) -> SubmitResult:
        """Ask for a PKB payment code (kode bayar) for one plate and tax year; reference = the kode bayar.

        The idempotency key travels in the `Idempotency-Key` header: a repeated key answers the same code."""
        if service != SERVICE_PKB:
            raise NotSupported(AGENCY, f"unknown service {service!r}; Samsat offers {SERVICE_PKB!r}")
        if not idempotency_key:
            raise ValueError("an idempotency key is required")
        try:
            area, number, series = split_plate(payload.get("plate"))
        except ValueError as exc:
            raise AgencyRejected(AGENCY, f"payment code: {exc}") from None
        body = {
            "nik": payload.get("nik"),
            "kode_wilayah": area,
            "nomor": number,
            "seri": series,
            "tahun_pajak": payload.get("year"),
        }
        code, envelope = await self.call(
            "POST", PATH_PAYMENT_CODE, "payment code", json=body, headers={IDEMPOTENCY_HEADER: idempotency_key}
        )
        if code == NOT_FOUND:
            raise AgencyRejected(
                AGENCY, f"payment code: code {code} ({_message(envelope) or 'vehicle not found'})", code=code
            )
        data = envelope.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("kode_bayar"), str) or not data["kode_bayar"]:
            raise AgencyProtocolError(AGENCY, "payment code: reply has no data.kode_bayar", code=code)
        total = data.get("total")
        if isinstance(total, bool) or not isinstance(total, int | str | Decimal):
            raise AgencyProtocolError(AGENCY, "payment code: reply has no exact total", code=code)
        detail = {
            "payment_code": data["kode_bayar"],
            "amount": _plain(total),
            "currency": "IDR",
            "valid_until": data.get("berlaku_sampai"),
            "agency_fields": {k: str(v) if isinstance(v, Decimal) else v for k, v in data.items()},
        }
        return SubmitResult(agency=AGENCY, reference=data["kode_bayar"], detail=detail)

    async def health(self) -> Health:
        """GET the status endpoint (with the API key): 0000 means up."""
        return await probe_health(AGENCY, lambda: self.call("GET", PATH_STATUS, "status"))

    async def aclose(self) -> None:
        await self._http.aclose()


def create(config: Mapping[str, str]) -> SamsatClient:
    """Entry point of the plug-in: a client from `GERBANG_AGENCY_SAMSAT_*` settings."""
    return SamsatClient(config)
