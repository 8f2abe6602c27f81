"""The `vehicles` facet: motor vehicles registered to a person and the annual tax due on each, as Samsat holds them.

Amounts are `Decimal` rupiah and are never accepted from a float: a tax amount that went through binary floating
point is not the amount the citizen is asked to pay.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import Field, field_validator

from identity.model import CanonicalModel, register_facet

FACET = "vehicles"


class PlateColour(str, Enum):
    """TNKB colour: white (private, since 2022) or black (private, older), yellow (public transport), red
    (government), green (free-trade zone)."""

    white = "white"
    black = "black"
    yellow = "yellow"
    red = "red"
    green = "green"


class Vehicle(CanonicalModel):
    """One registered vehicle: plate, what it is, and what is due."""

    plate: str = Field(description='Registration plate as written, e.g. "B 1234 XYZ"')
    plate_colour: PlateColour | None = None
    plate_code: str | None = Field(
        default=None,
        max_length=10,
        description="The province's own plate code (West Java: kd_plat); meanings unpublished",
    )
    brand: str | None = None
    model: str | None = None
    year: int | None = Field(default=None, ge=1900, le=2100, description="Year of manufacture")
    colour: str | None = None
    stnk_valid_until: dt.date | None = Field(default=None, description="STNK (registration) valid until")
    pkb_due_date: dt.date | None = Field(default=None, description="Annual vehicle tax (PKB) due date")
    pkb_amount: Decimal | None = Field(default=None, ge=0, description="PKB due, rupiah")
    swdkllj_amount: Decimal | None = Field(default=None, ge=0, description="SWDKLLJ (Jasa Raharja) due, rupiah")

    @field_validator("pkb_amount", "swdkllj_amount", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("amounts must be exact (int, Decimal or decimal string), not float")
        return value


class VehiclesFacet(CanonicalModel):
    """The owner's name as Samsat holds it, and their vehicles."""

    full_name: str | None = None
    vehicles: list[Vehicle] = Field(default_factory=list)


register_facet(FACET, VehiclesFacet)
