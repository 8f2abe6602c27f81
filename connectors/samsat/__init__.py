"""Samsat (Sistem Administrasi Manunggal Satu Atap: vehicle registration and annual tax): a citizen's vehicles and
the tax due on each; payment codes (kode bayar) for the annual tax (PKB).

There is no national Samsat API: each province's tax agency (Bapenda) runs its own. What differs between provinces
is a profile in `provinces.py` chosen by the `province` setting (West Java, `jabar`, the one whose reply is public:
`data.data_wp` + `data.list_kbm`, looked up by plate), with the endpoint, the lookups offered (`lookup_by`: plate,
nik) and request key names overridable as settings, and the reply's canonical fields in a mapping per province
(`mappings/samsat.yaml` is West Java's; `GERBANG_AGENCY_SAMSAT_MAPPING` names another). See docs/agencies.md.

What no public source shows is **our design**, in a provincial API's style:
- JSON over HTTPS, header `X-API-Key`; every reply the envelope `{"code": "0000", "success": true, "message": …,
  "data": …}`, "0000" success ([C] for West Java). Designed codes, each with the HTTP status that carries it:
  0001 (404) data not found · 0002 (400) bad request · 0003 (422) refused (plate not owned by the NIK, tax year
  not payable) · 0401 (401) bad API key · 0403 (403) forbidden · 0500 (500) internal error · 0503 (503) maintenance;
- the lookup path `POST /api/v1/info-pajak` and its by-NIK form `{"no_ktp": …}`;
- `POST /api/v1/pkb/kode-bayar` `{"nik", "kode_wilayah", "nomor", "seri", "tahun_pajak"}` with header
  `Idempotency-Key` → `data` {kode_bayar (16 digits), nopol, tahun_pajak, pkb, swdkllj, denda_pkb, total,
  berlaku_sampai}; a repeated key answers the same kode bayar;
- `GET /api/v1/status` → 0000 when up (health).
What is taken from life rather than a specification: the plate's three parts, the STNK's five-year validity, the
annual PKB, the SWDKLLJ amounts (Rp35,000 motorcycle, Rp143,000 car), late fines of 2 % a month.
"""

from __future__ import annotations

from connectors.base import agency_plugin, payload_schema
from connectors.samsat.client import SERVICE_PKB, SamsatClient, create
from connectors.samsat.facet import FACET
from connectors.samsat.tax_calendar import next_due
from identity.clock import today_wib
from identity.model import ROOT_FACET

PKB_PAYMENT_SCHEMA = payload_schema(
    "Samsat annual vehicle tax (PKB) payment code",
    ["nik", "plate", "year"],
    {
        "nik": {"type": "string", "pattern": "^[0-9]{16}$", "maxLength": 16, "description": "The registered owner"},
        "plate": {
            "type": "string",
            "pattern": "^ *[A-Za-z]{1,2} *[0-9]{1,4} *[A-Za-z]{0,3} *$",
            "maxLength": 16,
            "description": 'Registration plate, e.g. "B 1234 XYZ"',
        },
        "year": {
            "type": "integer",
            "minimum": 2000,
            "maximum": 2100,
            "description": "The tax year paid: the year of the vehicle's PKB due date",
        },
    },
    # the demo population's vehicle B 3538 YG, first registered on 25 October
    [{"nik": "3603282512770002", "plate": "B 3538 YG", "year": next_due(today_wib(), (10, 25)).year}],
)


PURPOSES = {"vehicle_tax": {"title": "Annual vehicle tax (Samsat)", "facets": [ROOT_FACET, FACET]}}
TITLE = "Samsat (vehicle registration and tax)"
SERVICES = {SERVICE_PKB: PKB_PAYMENT_SCHEMA}
PLUGIN = agency_plugin(__name__, TITLE, FACET, create, services=SERVICES, purposes=PURPOSES)

__all__ = ["PLUGIN", "SamsatClient", "PKB_PAYMENT_SCHEMA"]
