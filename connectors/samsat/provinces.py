"""What differs between provinces' Samsat services, one profile per province: chosen by the `province` setting.

There is no national Samsat API: each province's tax agency (Bapenda) runs its own, with its own reply shape
(shared/agency-evidence/README.md, "Samsat"). A profile says where the vehicle lookup lives, what a lookup sends
(by plate and, where the province offers it, by NIK), and how to tell a reply that carries vehicles from one that
does not; the canonical fields come from the province's mapping (`mappings/samsat.yaml` is West Java's; another
province names its own file with the `mapping` setting). Paths, key names and the lookups offered can be
overridden per deployment with settings (`path_lookup`, `key_plate`, `key_nik`, `lookup_by`).

West Java (`jabar`), from a public relay of its reply:
- [C] envelope `{"code": "0000", "success": true, "data": {"data_wp": {…}, "list_kbm": [{…}]}, "message":
  "Sukses", "param": {"no_polisi": "D UBX 4127"}}`; the owner in `data_wp`, the vehicles in `list_kbm`, each plate in
  `data_tnkb {tnkb_daerah, tnkb_subdaerah, tnkb_nomor}`; public lookups are **by plate**.
- [I] the request: `{"no_polisi": "D UBX 4127"}` (the plate as `param.no_polisi` echoes it: area, series, number).
- [?] the path (ours: `/api/v1/info-pajak`), the API key header, a by-NIK lookup (ours: `{"no_ktp": nik}`, same
  path), codes other than 0000 (ours: 0001 not found …), amounts, what `kd_plat` codes mean.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

LOOKUPS = ("plate", "nik")


class ShapeError(ValueError):
    """A success reply that lacks what the connector needs (the client makes it an AgencyProtocolError)."""


@dataclass(frozen=True)
class Province:
    """One province's Samsat: defaults for its settings and the reader of its reply's `data`."""

    code: str
    title: str
    path_lookup: str
    lookup_by: tuple[str, ...]
    key_plate: str
    key_nik: str
    plate_text: Callable[[str, str, str], str]
    read: Callable[[Any], dict[str, Any]]
    owner_niks: Callable[[Mapping[str, Any]], list[str]]
    keep_vehicles: Callable[[Mapping[str, Any], str], dict[str, Any]]


def _jabar_read(data: Any) -> dict[str, Any]:
    """West Java's `data`, checked: an owner object and at least one vehicle with its plate parts."""
    if not isinstance(data, dict):
        raise ShapeError("success without a data object")
    owner, vehicles = data.get("data_wp"), data.get("list_kbm")
    if not isinstance(owner, dict):
        raise ShapeError("success without data.data_wp (the owner)")
    if not isinstance(vehicles, list) or not vehicles:
        raise ShapeError("success without vehicles in data.list_kbm")
    for vehicle in vehicles:
        plate = vehicle.get("data_tnkb") if isinstance(vehicle, dict) else None
        if not isinstance(plate, dict) or not all(
            isinstance(plate.get(k), str) and plate[k].strip() for k in ("tnkb_daerah", "tnkb_nomor")
        ):
            raise ShapeError("a vehicle in data.list_kbm has no plate (data_tnkb)")
    return {"data_wp": owner, "list_kbm": vehicles}


def _jabar_niks(fields: Mapping[str, Any]) -> list[str]:
    """The owner NIKs a West Java reply names (data_wp and each vehicle), trailing spaces dropped."""
    found = [fields["data_wp"].get("no_ktp")] + [v.get("no_ktp") for v in fields["list_kbm"]]
    return [str(value).strip() for value in found if isinstance(value, (str, int)) and str(value).strip()]


def _jabar_keep(fields: Mapping[str, Any], nik: str) -> dict[str, Any]:
    """Only the vehicles registered to `nik`."""
    kept = [v for v in fields["list_kbm"] if str(v.get("no_ktp", "")).strip() == nik]
    return {"data_wp": fields["data_wp"], "list_kbm": kept}


PROVINCES: dict[str, Province] = {
    "jabar": Province(
        code="jabar",
        title="Jawa Barat (Bapenda Jabar)",
        path_lookup="/api/v1/info-pajak",
        lookup_by=("plate",),
        key_plate="no_polisi",
        key_nik="no_ktp",
        plate_text=lambda area, number, series: " ".join(p for p in (area, series, number) if p),
        read=_jabar_read,
        owner_niks=_jabar_niks,
        keep_vehicles=_jabar_keep,
    ),
}


def lookups(raw: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """The `lookup_by` setting: "plate", "nik" or both ("plate,nik"); unset → the province's default."""
    if raw is None or str(raw).strip() == "":
        return default
    chosen = tuple(part.strip().lower() for part in str(raw).split(",") if part.strip())
    if not chosen or any(part not in LOOKUPS for part in chosen) or len(set(chosen)) != len(chosen):
        raise ValueError(f"samsat: setting lookup_by must be plate, nik or plate,nik, not {str(raw)[:40]!r}")
    return chosen
