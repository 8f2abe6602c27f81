"""The `driving_licences` facet: the SIMs (driving licences) a person holds, as Korlantas Polri holds them.

Licence classes keep the police's own codes (`A`, `C`, `B1`, `A UMUM` …): they are the words on the card and on
every counter's form, so translating them would only add a lookup table. Status becomes a stable lower-case word.
The holder fields are named `full_name`, `birth_date` and `sex` so the record can report where Korlantas spells the
holder differently from Dukcapil.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum

from pydantic import Field

from identity.model import CanonicalModel, Sex, register_facet

FACET = "driving_licences"


class LicenceStatus(str, Enum):
    """Korlantas `status`: AKTIF, KEDALUWARSA (past its five years), DIBLOKIR (blocked, e.g. by a court)."""

    active = "active"
    expired = "expired"
    blocked = "blocked"


class DrivingLicence(CanonicalModel):
    """One SIM card: number, class, validity (five years from issue) and where it was issued."""

    number: str = Field(pattern=r"^[0-9]{12,16}$", description="Nomor SIM")
    licence_class: str = Field(description="Golongan SIM: A, A UMUM, B1, B1 UMUM, B2, B2 UMUM, C, C1, C2, D, D1")
    issued_on: dt.date | None = Field(default=None, description="tanggalTerbit")
    valid_until: dt.date | None = Field(default=None, description="berlakuSampai (five years from issue)")
    status: LicenceStatus | None = None
    issuing_office: str | None = Field(default=None, description="SATPAS that issued the card")


class DrivingLicencesFacet(CanonicalModel):
    """The holder as Korlantas holds them, and their licences."""

    full_name: str | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None
    licences: list[DrivingLicence] = Field(default_factory=list)


register_facet(FACET, DrivingLicencesFacet)
