"""The `employment_insurance` facet: a person's BPJS Ketenagakerjaan membership, employer and programmes.

Programme codes keep their statutory abbreviations (JHT, JKK, JKM, JP, JKP): they are what every form and card
uses. Segment and status become stable lower-case words. The holder fields are named `full_name`, `birth_date` and
`sex` so the record can report where BPJS Ketenagakerjaan spells the member differently from Dukcapil.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum

from pydantic import Field

from identity.model import CanonicalModel, Sex, register_facet

FACET = "employment_insurance"


class Segment(str, Enum):
    """PU (penerima upah), BPU (bukan penerima upah), PMI (pekerja migran Indonesia)."""

    wage_earner = "wage_earner"
    non_wage_earner = "non_wage_earner"
    migrant_worker = "migrant_worker"


class MembershipStatus(str, Enum):
    active = "active"
    inactive = "inactive"


class ProgrammeCode(str, Enum):
    """JHT old-age savings, JKK work accident, JKM death, JP pension, JKP job-loss benefit."""

    JHT = "JHT"
    JKK = "JKK"
    JKM = "JKM"
    JP = "JP"
    JKP = "JKP"


class Programme(CanonicalModel):
    code: ProgrammeCode
    name: str | None = None
    active: bool | None = None
    since: dt.date | None = None


class Employer(CanonicalModel):
    """The employer a wage-earner member is registered through."""

    npp: str | None = Field(default=None, pattern=r"^[0-9]{8}$", description="Nomor Pendaftaran Perusahaan")
    name: str | None = None


class EmploymentInsuranceFacet(CanonicalModel):
    """The member as BPJS Ketenagakerjaan holds them, their membership and programmes."""

    full_name: str | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None
    membership_number: str | None = Field(default=None, pattern=r"^[0-9]{11}$", description="Nomor KPJ")
    segment: Segment | None = None
    status: MembershipStatus | None = None
    member_since: dt.date | None = Field(default=None, description="tanggalKepesertaan")
    employer: Employer | None = None
    programmes: list[Programme] = Field(default_factory=list)


register_facet(FACET, EmploymentInsuranceFacet)
