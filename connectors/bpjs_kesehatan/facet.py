"""The `health_insurance` facet: a person's JKN membership as BPJS Kesehatan holds it.

Labels stay in BPJS's own upper-case spelling (like Dukcapil's occupation), codes stay BPJS's codes; what a counter
app needs to decide on — is the card usable — is the plain boolean `active`. The holder fields are named
`full_name`, `birth_date` and `sex` so the record can report where BPJS spells the participant differently from
Dukcapil.
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from identity.model import CanonicalModel, Sex, register_facet

FACET = "health_insurance"


class PrimaryClinic(CanonicalModel):
    """The first-level clinic (FKTP, "faskes tingkat 1") the participant is registered with: VClaim's provUmum."""

    code: str | None = Field(default=None, description="kdProvider")
    name: str | None = Field(default=None, description="nmProvider")


class HealthInsurance(CanonicalModel):
    """One JKN card (kartu BPJS Kesehatan) and its coverage."""

    card_number: str = Field(pattern=r"^[0-9]{13}$", description="noKartu, 13 digits")
    nik: str | None = Field(default=None, pattern=r"^[0-9]{16}$", description="The NIK BPJS holds for the card")
    full_name: str | None = None
    birth_date: dt.date | None = None
    sex: Sex | None = None
    active: bool = Field(description="Coverage usable today (statusPeserta code 0, AKTIF)")
    status: str | None = Field(default=None, description="statusPeserta label, e.g. AKTIF, MENINGGAL")
    status_code: str | None = Field(default=None, description="statusPeserta code")
    care_class: int | None = Field(default=None, ge=1, le=3, description="hakKelas: inpatient ward class 1-3")
    participant_type: str | None = Field(default=None, description="jenisPeserta label, e.g. PBI (APBN)")
    participant_type_code: str | None = Field(default=None, description="jenisPeserta code")
    clinic: PrimaryClinic | None = None
    coverage_start: dt.date | None = Field(default=None, description="tglTMT: coverage start")
    coverage_end: dt.date | None = Field(
        default=None, description="tglTAT as BPJS sends it; may be past on an active card"
    )
    card_printed_on: dt.date | None = Field(default=None, description="tglCetakKartu")
    medical_record_no: str | None = Field(default=None, description="mr.noMR")
    phone: str | None = Field(default=None, description="mr.noTelepon, as BPJS holds it")
    cob_insurer: str | None = Field(default=None, description="Coordination of benefits: the other insurer's name")
    cob_policy_no: str | None = Field(default=None, description="Coordination of benefits: the other policy number")
    chronic_programme: str | None = Field(default=None, description="informasi.prolanisPRB (PROLANIS / PRB)")


register_facet(FACET, HealthInsurance)
