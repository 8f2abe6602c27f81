"""The OSS simulator's data: who holds which NIBs and licences to process, derived per person from the synthetic
population (`population.rng(person, "oss")`), the evidence fixtures' holder, and the region's decisions it
accepts; see simulator.py for what it serves of it."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass
from typing import Any

from connectors.oss.codes import LICENCE_STATUSES, NIB_ACTIVE
from connectors.simkit.attributes import add_years, weighted
from connectors.simkit.population import Person, Population
from identity.clock import WIB

OWNER_SHARE = 0.30
VARIANT_SHARE = 0.05
OSS_START = dt.date(2018, 7, 9)  # OSS launched; no NIB is older
DATA_END = dt.date(2024, 12, 31)  # fixed, so the data does not drift with the calendar

# Codes as the guide's appendices define them (connectors/oss/codes.py); the weights are made up.
SCALES = (("01", 0.65), ("02", 0.20), ("03", 0.10), ("04", 0.05))  # Lampiran 31: micro … large
STATUSES = (("01", 0.85), ("02", 0.04), ("03", 0.03), ("04", 0.03), ("05", 0.02), ("06", 0.03))  # Lampiran 14
ACTORS = (("02", 0.80), ("01", 0.19), ("03", 0.01))  # Lampiran 18: 02 perseorangan, 01 badan usaha, 03 perwakilan
# Licences a kabupaten/kota processes (kd_izin, jenis_izin (Lampiran 27), name). The first is the evidence
# fixture's; the others are made up in its shape.
LICENCES = (
    ("059000000214", "04", "SERTIFIKAT STANDAR USAHA MAKANAN"),
    ("059000000301", "02", "IZIN USAHA TOKO SWALAYAN"),
    ("059000000117", "04", "SERTIFIKAT STANDAR USAHA JASA BOGA"),
)
_SPELLINGS = (
    ("OE", "U"),
    ("U", "OE"),
    ("DJ", "J"),
    ("TJ", "C"),
    ("C", "TJ"),
    ("Y", "I"),
    ("MUHAMMAD", "MOHAMAD"),
    ("NUR", "NOER"),
    ("KH", "H"),
)


@dataclass(frozen=True)
class OssLicence:
    """One licence OSS hands a region to process (a data_checklist item)."""

    id_izin: str
    kd_izin: str
    jenis_izin: str
    nama_izin: str
    kd_daerah: str


@dataclass(frozen=True)
class OssNib:
    """One NIB as OSS stores it (codes as OSS sends them)."""

    nib: str
    issued: dt.date
    oss_id: str
    actor: str
    scale: str
    status: str
    npp: str | None
    va: str | None
    licences: tuple[OssLicence, ...] = ()


@dataclass(frozen=True)
class OssOwner:
    """A business holder as OSS holds them: possibly another spelling of the name than Dukcapil's."""

    nik: str
    name: str
    birth_date: dt.date
    sex: str
    region: str
    nibs: tuple[OssNib, ...]


def _digits(rng: random.Random, count: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(count))


def old_spelling(name: str, rng: random.Random) -> str:
    """The name in another (often pre-1972) spelling; always different from `name`."""
    options = [(old, new) for old, new in _SPELLINGS if old in name]
    if options:
        old, new = rng.choice(options)
        respelled = name.replace(old, new, 1)
        if respelled != name:
            return respelled
    words = name.split()
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    words[longest] += words[longest][-1]  # a doubled last letter: SANTOSO → SANTOSOO
    return " ".join(words)


def owner_of(population: Population, person: Person) -> OssOwner | None:
    """What OSS holds about `person`, or None if they hold no NIB (deterministic per seed and person)."""
    rng = population.rng(person, "oss")
    adult_from = max(OSS_START, add_years(person.birth_date, 18))
    if rng.random() >= OWNER_SHARE or adult_from > DATA_END:
        return None
    name = old_spelling(person.name, rng) if rng.random() < VARIANT_SHARE else person.name
    count = rng.choices((1, 2, 3), (0.80, 0.15, 0.05))[0]
    region = f"{person.nik[:6]}0000"  # kd_daerah: province, regency, district of the holder's NIK
    nibs = tuple(_nib(rng, person.index, k, adult_from, region) for k in range(count))
    return OssOwner(nik=person.nik, name=name, birth_date=person.birth_date, sex=person.sex, region=region, nibs=nibs)


def _nib(rng: random.Random, index: int, k: int, earliest: dt.date, region: str) -> OssNib:
    issued = earliest + dt.timedelta(days=rng.randrange((DATA_END - earliest).days + 1))
    scale = weighted(rng, SCALES)
    registered = scale != "01" or rng.random() < 0.4  # most micro businesses have no BPJS employer account
    nib = f"9{_digits(rng, 5)}{index % 1_000_000:06d}{k}"  # unique per person and rank: 13 digits
    return OssNib(
        nib=nib,
        issued=issued,
        oss_id=f"P-{issued:%Y%m%d}{_digits(rng, 13)}",
        actor=weighted(rng, ACTORS) if scale in ("01", "02") else rng.choice(("01", "01", "01", "03")),
        scale=scale,
        status=weighted(rng, STATUSES),
        npp=_digits(rng, 8) if registered else None,
        va=_digits(rng, 8) if registered else None,
        licences=licences_of(nib, issued, region),
    )


def licences_of(nib: str, issued: dt.date, region: str) -> tuple[OssLicence, ...]:
    """One or two licences to process, derived from the NIB alone (so the draws above stay as they were)."""
    digest = hashlib.sha256(f"oss-licences:{nib}".encode()).hexdigest()
    count = 1 + int(digest[0], 16) % 2
    found = []
    for k in range(count):
        kd_izin, jenis, nama = LICENCES[(int(digest[1 + k], 16) + k) % len(LICENCES)]
        serial = int(digest[4 + 12 * k : 16 + 12 * k], 16) % 10**13
        found.append(
            OssLicence(
                id_izin=f"I-{issued:%Y%m%d}{serial:013d}",
                kd_izin=kd_izin,
                jenis_izin=jenis,
                nama_izin=nama,
                kd_daerah=region,
            )
        )
    return tuple(found)


def evidence_holder() -> OssOwner:
    """The holder of the evidence's fixtures (agency-evidence/fixtures/oss, made-up values): NIB 0220205481936 with
    licence I-202502200921407719340, so the schema examples and the fixtures name a licence the simulator knows."""
    licence = OssLicence(
        id_izin="I-202502200921407719340",
        kd_izin="059000000214",
        jenis_izin="04",
        nama_izin="SERTIFIKAT STANDAR USAHA MAKANAN",
        kd_daerah="3374030000",
    )
    nib = OssNib(
        nib="0220205481936",
        issued=dt.date(2025, 2, 20),
        oss_id="P-202502200915334471208",
        actor="02",
        scale="01",
        status=NIB_ACTIVE,
        npp=None,
        va=None,
        licences=(licence,),
    )
    return OssOwner(
        nik="3374032307780011",
        name="DWI HARYANTO",
        birth_date=dt.date(1978, 7, 23),
        sex="L",
        region="3374030000",
        nibs=(nib,),
    )


class OssState:
    """The simulator's data: holders by NIK, NIBs, licences by id_izin (built once), and what the region sent."""

    def __init__(self, population: Population):
        self.owners: dict[str, OssOwner] = {}
        self.by_nib: dict[str, tuple[OssOwner, OssNib]] = {}
        self.licences: dict[str, tuple[OssNib, OssLicence]] = {}
        for person in population.people:
            owner = owner_of(population, person)
            if owner is None:
                continue
            self.owners[person.nik] = owner
            for nib in owner.nibs:
                self.by_nib[nib.nib] = (owner, nib)
                self.licences.update({licence.id_izin: (nib, licence) for licence in nib.licences})
        evidence = evidence_holder()  # not among `owners`: not a person of the population
        for nib in evidence.nibs:
            self.by_nib[nib.nib] = (evidence, nib)
            self.licences.update({licence.id_izin: (nib, licence) for licence in nib.licences})
        self.statuses: dict[str, list[dict[str, Any]]] = {}  # id_izin → IZINSTATUS objects received
        self.finals: dict[str, dict[str, Any]] = {}  # id_izin → IZINFINAL received


def active_licences(state: OssState) -> list[tuple[OssOwner, OssNib, OssLicence]]:
    """Every licence of an active NIB (status 01), in a stable order: what tests and the demo decide on."""
    return [
        (owner, nib, licence)
        for owner in state.owners.values()
        for nib in owner.nibs
        if nib.status == NIB_ACTIVE
        for licence in nib.licences
    ]


def decision(
    owner: OssOwner, nib: OssNib, licence: OssLicence, kd_status: str = "50", at: dt.datetime | None = None
) -> dict[str, Any]:
    """A `license_status` payload the simulator accepts: the region's decision on `licence` (the IZINSTATUS
    fields, plus the holder's `nik`, Gerbang's own, which the client does not send)."""
    when = (at or dt.datetime.now(WIB)).astimezone(WIB)
    return {
        "nik": owner.nik,
        "nib": nib.nib,
        "oss_id": nib.oss_id,
        "id_izin": licence.id_izin,
        "kd_izin": licence.kd_izin,
        "kd_instansi": licence.kd_izin[:3],
        "kd_status": kd_status,
        "tgl_status": f"{when:%Y-%m-%d %H:%M:%S}",
        "nip_status": "198507142010011009",
        "nama_status": "PETUGAS VERIFIKASI",
        "keterangan": LICENCE_STATUSES[kd_status],
    }
