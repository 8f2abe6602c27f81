"""The `business` facet: the businesses (NIB) a person owns, as OSS RBA holds them.

Codes OSS sends as two-digit strings become stable lower-case words here, so a counter app never has to know that
`skala_usaha` "03" means a medium enterprise. The holder fields are named `full_name`, `birth_date` and `sex` so the
record can report where OSS spells the owner differently from Dukcapil.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum

from pydantic import Field

from identity.model import CanonicalModel, Sex, register_facet

FACET = "business"


class BusinessScale(str, Enum):
    """OSS `skala_usaha` (guide Lampiran 31): 01 micro, 02 small, 03 medium, 04 large."""

    micro = "micro"
    small = "small"
    medium = "medium"
    large = "large"


class NibStatus(str, Enum):
    """OSS `status_nib` (guide Lampiran 14; codes in connectors/oss/codes.py)."""

    active = "active"  # 01 Aktif
    not_yet_active = "not_yet_active"  # 02 Belum Aktif
    business_permitted = "business_permitted"  # 03 Diizinkan Usaha
    operation_permitted = "operation_permitted"  # 04 Diizinkan Beroperasi
    suspended = "suspended"  # 05 Dibekukan
    revoked = "revoked"  # 06 Dicabut


class ActorType(str, Enum):
    """OSS `jenis_pelaku_usaha`: who holds the NIB (guide Lampiran 18)."""

    business_entity = "business_entity"  # 01 Badan Usaha (PT, CV, koperasi, …)
    individual = "individual"  # 02 Perseorangan
    representative_office = "representative_office"  # 03 Kantor Perwakilan
    foreign_business_entity = "foreign_business_entity"  # 04 Badan Usaha Luar Negeri


class Business(CanonicalModel):
    """One NIB (Nomor Induk Berusaha) and the social-security accounts OSS linked to it."""

    nib: str = Field(pattern=r"^[0-9]{13}$", description="Nomor Induk Berusaha, 13 digits")
    issued_on: dt.date | None = Field(default=None, description="tgl_terbit_nib")
    name: str | None = Field(default=None, description="nama_perseroan (empty for a Perseorangan)")
    oss_id: str | None = None
    actor_type: ActorType | None = None
    scale: BusinessScale | None = None
    status: NibStatus | None = None
    bpjs_tk_npp: str | None = Field(default=None, description="BPJS Ketenagakerjaan employer number (NPP)")
    bpjs_kes_va: str | None = Field(default=None, description="BPJS Kesehatan employer virtual account")


class BusinessFacet(CanonicalModel):
    """The owner as OSS holds them, and the NIBs they own (an empty list is not the same as not found)."""

    full_name: str | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None
    businesses: list[Business] = Field(default_factory=list)


register_facet(FACET, BusinessFacet)
