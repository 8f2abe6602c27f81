"""Samsat (Sistem Administrasi Manunggal Satu Atap: vehicle registration and annual tax): vehicles registered to a
NIK and the tax due on each; payment codes (kode bayar) for the annual tax (PKB).

There is no public national Samsat API: each province's tax agency (Bapenda) runs its own. **The protocol here is
our design**, modelled on the style of a provincial tax agency's public API:
- JSON over HTTPS, header `X-API-Key`; every reply is the envelope `{"code": "0000", "success": true,
  "message": "…", "data": …}`, "0000" success. Designed codes, each with the HTTP status that carries it:
  0000 (200) success · 0001 (404) data not found · 0002 (400) bad request · 0003 (422) refused (plate not owned by
  the NIK, tax year not payable) · 0401 (401) bad API key · 0403 (403) forbidden · 0500 (500) internal error ·
  0503 (503) maintenance;
- `POST /api/v1/kendaraan/cari-nik` `{"nik": …}` → `data` {nik, nama_pemilik (as on the BPKB), jumlah_kendaraan,
  kendaraan: [{kode_wilayah "B", nomor "1234", seri "XYZ" (the plate in three parts), warna_tnkb (plate colour
  PUTIH/HITAM/KUNING/MERAH/HIJAU), jenis_kendaraan, merk, tipe, tahun_pembuatan, warna, masa_berlaku_stnk,
  tgl_jatuh_tempo_pkb (dates dd-mm-yyyy), pkb, swdkllj (whole rupiah: JSON integers or decimal strings)}]};
- `POST /api/v1/pkb/kode-bayar` `{"nik", "kode_wilayah", "nomor", "seri", "tahun_pajak"}` with header
  `Idempotency-Key` → `data` {kode_bayar (16 digits), nopol, tahun_pajak, pkb, swdkllj, denda_pkb, total,
  berlaku_sampai}; a repeated key answers the same kode bayar;
- `GET /api/v1/status` → 0000 when up (health).
What is taken from life rather than a specification: the plate's three parts and colours, the STNK's five-year
validity, the annual PKB, the SWDKLLJ amounts (Rp35,000 motorcycle, Rp143,000 car), late fines of 2 % a month.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from connectors.base import ConnectorPlugin, lazy
from connectors.examples import today
from connectors.samsat.client import SERVICE_PKB, SamsatClient, create


def payable_year(month: int, day: int, on: dt.date | None = None) -> int:
    """The tax year whose PKB a vehicle first registered on `month`/`day` pays now: this year's, unless that due
    date passed more than 60 days ago (then next year's), for a vehicle with no arrears (as the simulator holds)."""
    on = on or today()
    due = dt.date(on.year, month, min(day, 28) if month == 2 else day)
    return on.year + 1 if due < on - dt.timedelta(days=60) else on.year


PKB_PAYMENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Samsat annual vehicle tax (PKB) payment code",
    "type": "object",
    "additionalProperties": False,
    "required": ["nik", "plate", "year"],
    "properties": {
        "nik": {"type": "string", "pattern": "^[0-9]{16}$", "maxLength": 16, "description": "The registered owner"},
        "plate": {"type": "string", "pattern": "^ *[A-Za-z]{1,2} *[0-9]{1,4} *[A-Za-z]{0,3} *$", "maxLength": 16,
                  "description": 'Registration plate, e.g. "B 1234 XYZ"'},
        "year": {"type": "integer", "minimum": 2000, "maximum": 2100,
                 "description": "The tax year paid: the year of the vehicle's PKB due date"},
    },
    # the demo population's vehicle B 3538 YG, first registered on 25 October
    "examples": [{"nik": "3603282512770002", "plate": "B 3538 YG", "year": payable_year(10, 25)}],
}


PLUGIN = ConnectorPlugin(
    name="samsat",
    title="Samsat (vehicle registration and tax)",
    facet="vehicles",
    mapping="samsat",
    create=create,
    simulator=lazy("connectors.samsat.simulator", "simulator"),
    sim_config=lazy("connectors.samsat.simulator", "sim_config"),
    services={SERVICE_PKB: PKB_PAYMENT_SCHEMA},
    protocol="rest",
)

__all__ = ["PLUGIN", "SamsatClient", "PKB_PAYMENT_SCHEMA"]
