"""The `passports` facet: the passports a person holds or held, as the Directorate General of Immigration holds them.

The history is kept (newest first) because a counter checking an application needs the previous passport's number
and whether it is still valid. The holder fields are named `full_name`, `birth_date` and `sex` so the record can
report where Imigrasi spells the holder differently from Dukcapil.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum

from pydantic import Field

from identity.model import CanonicalModel, Sex, register_facet

FACET = "passports"


class PassportType(str, Enum):
    """Imigrasi `jenis`: BIASA (ordinary, non-electronic) or ELEKTRONIK (e-paspor, with a chip)."""

    ordinary = "ordinary"
    electronic = "electronic"


class PassportStatus(str, Enum):
    """BERLAKU (valid), HABIS BERLAKU (expired), DIBATALKAN (cancelled: lost, or replaced before it expired)."""

    valid = "valid"
    expired = "expired"
    cancelled = "cancelled"


class Passport(CanonicalModel):
    """One passport: number, type, validity and the immigration office that issued it."""

    number: str = Field(pattern=r"^[A-Z]{1,2}[0-9]{6,8}$", description="Nomor paspor")
    passport_type: PassportType | None = None
    issued_on: dt.date | None = None
    valid_until: dt.date | None = Field(default=None, description="tanggalHabisBerlaku")
    status: PassportStatus | None = None
    issuing_office: str | None = Field(default=None, description="Kantor imigrasi (kanim)")


class PassportsFacet(CanonicalModel):
    """The holder as Imigrasi holds them, and their passports, newest first."""

    full_name: str | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None
    passports: list[Passport] = Field(default_factory=list)


register_facet(FACET, PassportsFacet)
