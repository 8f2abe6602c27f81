"""The real Samsat connector against West Java's public reply (fixtures/, copied from
shared/agency-evidence/fixtures/samsat; made-up values), served byte for byte from a loopback server that is not our
simulator. INDEX.md: found, owner "RIZKY FADILLAH", plate "D 4127 UBX", year 2019, PKB due 2025-08-12, STNK valid
until 2029-08-12; a "0000" reply never becomes not found. Real lookups are by plate (`param.no_polisi`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response

from connectors.base import FacetStatus
from connectors.samsat import PLUGIN
from connectors.simkit.serving import RunningServer, serving
from connectors.samsat.facet import VehiclesFacet
from mappings.engine import load_mapping
from tests.connectors.helpers import run

FIXTURE = Path(__file__).parent / "fixtures" / "jabar_list_kbm_one_vehicle.json"
OWNER = "3273010205830006"


@pytest.fixture(scope="module")
def evidence() -> Iterator[tuple[RunningServer, list[Any]]]:
    """Answers the fixture to a lookup of its plate (or its owner's NIK); anything else is our 0001."""
    seen: list[Any] = []
    app = FastAPI()

    @app.post("/api/v1/info-pajak")
    async def lookup(request: Request) -> Response:
        body = json.loads(await request.body())
        seen.append(body)
        if body.get("no_polisi") == "D UBX 4127" or body.get("no_ktp") == OWNER:
            return Response(FIXTURE.read_bytes(), media_type="application/json")
        return Response(json.dumps({"code": "0001", "success": False, "message": "Data tidak ditemukan",
                                    "data": None}), media_type="application/json", status_code=404)

    with serving(app) as server:
        yield server, seen


def settings(server: RunningServer, **extra: str) -> dict[str, str]:
    return {"url": server.url, "api_key": "k", "province": "jabar", **extra}


def check(result: Any) -> None:
    assert result.status is FacetStatus.ok and result.agency_code == "0000"
    facet = load_mapping("samsat").apply(dict(result.fields))
    assert isinstance(facet, VehiclesFacet) and facet.full_name == "RIZKY FADILLAH"
    [vehicle] = facet.vehicles
    assert vehicle.plate == "D 4127 UBX" and vehicle.year == 2019 and vehicle.plate_code == "1"
    assert vehicle.pkb_due_date == dt.date(2025, 8, 12) and vehicle.stnk_valid_until == dt.date(2029, 8, 12)
    assert (vehicle.brand, vehicle.model) == ("HONDA", "NC11A1CF A/T")


def test_west_java_reply_by_plate(evidence: Any) -> None:
    server, seen = evidence
    check(run(PLUGIN, settings(server), lambda c: c.lookup_plates(OWNER, ["D 4127 UBX"])))
    assert seen[-1] == {"no_polisi": "D UBX 4127"}  # the plate as param.no_polisi echoes it


def test_west_java_reply_by_nik_where_configured(evidence: Any) -> None:
    server, seen = evidence
    check(run(PLUGIN, settings(server, lookup_by="nik"), lambda c: c.lookup(OWNER)))
    assert seen[-1] == {"no_ktp": OWNER}


def test_the_plate_of_someone_else_is_not_disclosed(evidence: Any) -> None:
    server, _ = evidence
    result = run(PLUGIN, settings(server), lambda c: c.lookup_plates("3273010101900001", ["D 4127 UBX"]))
    assert result.status is FacetStatus.not_found and not result.fields
