"""The canonical citizen model and the facet envelope that carries provenance.

Every agency's fields are mapped (see `mappings/`) onto one of the facet models registered in `FACET_MODELS`;
the record a counter receives is a set of facets, each saying which agency said it, when, and with what outcome.
Enumerations use stable lower-case codes; free-text values (occupation, education, names) keep the registry's
upper-case spelling so that what the civil registry said is what the counter sees.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Sex = Literal["L", "P"]


class FacetStatus(str, Enum):
    """Outcome of asking one agency about one citizen, as shown in the record's provenance."""

    ok = "ok"
    not_found = "not_found"
    unavailable = "unavailable"
    timeout = "timeout"
    error = "error"


class LifeStatus(str, Enum):
    """What the civil registry says of the person behind a NIK."""

    alive = "alive"
    deceased = "deceased"
    inactive = "inactive"


class Religion(str, Enum):
    islam = "islam"
    protestant = "protestant"
    catholic = "catholic"
    hindu = "hindu"
    buddhist = "buddhist"
    confucian = "confucian"
    belief = "belief"  # Kepercayaan terhadap Tuhan YME


class MaritalStatus(str, Enum):
    single = "single"
    married = "married"
    divorced = "divorced"
    widowed = "widowed"


class CanonicalModel(BaseModel):
    """Base of canonical models: unknown fields are an error, so a mapping cannot silently drop data."""

    model_config = ConfigDict(extra="forbid")


class Address(CanonicalModel):
    """Domicile as registered: street line, RT/RW, and all four region levels with their Kemendagri codes."""

    street: str | None = None
    rt: str | None = Field(default=None, description="Rukun tetangga, three digits")
    rw: str | None = Field(default=None, description="Rukun warga, three digits")
    hamlet: str | None = Field(default=None, description="Dusun")
    village: str | None = None
    village_code: str | None = Field(default=None, description="e.g. 32.76.01.1001")
    district: str | None = None
    district_code: str | None = None
    regency: str | None = None
    regency_code: str | None = None
    province: str | None = None
    province_code: str | None = None
    postal_code: str | None = None


class Citizen(CanonicalModel):
    """The identity facet (the root facet): what the civil registry holds about a person."""

    nik: str
    kk_number: str | None = Field(default=None, description="Nomor Kartu Keluarga, 16 digits")
    full_name: str | None = None
    birth_place: str | None = None
    birth_date: dt.date | None = None
    birth_certificate_no: str | None = None
    sex: Sex | None = None
    religion: Religion | None = None
    marital_status: MaritalStatus | None = None
    family_role: str | None = Field(default=None, description="Status hubungan dalam keluarga")
    occupation: str | None = None
    education: str | None = None
    blood_type: str | None = Field(default=None, description="A, B, AB, O (with +/- when known); null if unknown")
    father_name: str | None = None
    mother_name: str | None = None
    address: Address | None = None
    life_status: LifeStatus = LifeStatus.alive
    ektp_status: str | None = None


ROOT_FACET = "identity"
"""The root of every record: the civil registry's facet, read first; every purpose includes it."""

FACET_MODELS: dict[str, type[CanonicalModel]] = {ROOT_FACET: Citizen}
"""Facet name → canonical model. Mappings target one of these. An agency's facet lives in its connector's folder
(`connectors/<agency>/facet.py`, calling `register_facet`), registered when its plug-in is loaded: discovering the
plug-ins (connectors.registry) registers them all."""


def register_facet(name: str, model: type[CanonicalModel]) -> type[CanonicalModel]:
    """Declare a canonical facet model; registering a different model under a taken name is an error."""
    existing = FACET_MODELS.get(name)
    if existing is not None and existing is not model:
        raise ValueError(f"facet {name!r} is already registered to {existing.__name__}")
    FACET_MODELS[name] = model
    return model


def facet_model(name: str) -> type[CanonicalModel]:
    """The canonical model of a registered facet (an agency's is registered when its plug-in is loaded)."""
    try:
        return FACET_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(FACET_MODELS))
        raise KeyError(f"unknown facet {name!r} (is its connector plug-in installed?); known: {known}") from None


class Provenance(BaseModel):
    """Who said it and when: the agency, the time of the fetch, and its outcome."""

    agency: str
    fetched_at: dt.datetime
    status: FacetStatus
    cached: bool = False
    agency_code: str | None = Field(default=None, description="The agency's own response code, when it gave one")
    message: str | None = None


class Facet(BaseModel):
    """One agency's contribution to a record: canonical data (null unless status is ok) and its provenance."""

    name: str
    provenance: Provenance
    data: dict[str, Any] | None = None


class Conflict(BaseModel):
    """A field where an agency holds another value than the civil registry (the "single data" report);
    `dukcapil_value` is the root facet's value, named as the public API has always named it."""

    field: str
    agency: str
    agency_value: Any
    dukcapil_value: Any


class CitizenRecord(BaseModel):
    """The merged, verified record for one NIK, as returned to a counter."""

    nik: str
    purpose: str
    life_status: LifeStatus
    facets: dict[str, Facet]
    conflicts: list[Conflict] = Field(default_factory=list)
    warnings: list[dict[str, str]] = Field(
        default_factory=list, description="Notes on the NIK itself, e.g. a region code no longer listed"
    )
