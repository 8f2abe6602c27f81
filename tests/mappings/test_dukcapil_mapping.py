"""mappings/dukcapil.yaml on realistic CALL_NIK records (synthetic people) gives the expected Citizen."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.base import LifeStatus
from identity.model import Address, Citizen, MaritalStatus, Religion
from mappings import MappingError, load_mapping

DUKCAPIL_FIELDS = {
    "NIK", "NO_KK", "NAMA_LGKP", "JENIS_KLMIN", "TMPT_LHR", "TGL_LHR", "NO_AKTA_LHR", "ALAMAT", "NO_RT", "NO_RW",
    "KEL_NAME", "NO_KEL", "KEC_NAME", "NO_KEC", "KAB_NAME", "NO_KAB", "PROP_NAME", "NO_PROP", "KODE_POS", "DUSUN",
    "AGAMA", "GOL_DARAH", "JENIS_PKRJN", "PDDK_AKH", "STATUS_KAWIN", "STAT_HBKEL", "NAMA_LGKP_AYAH", "NAMA_LGKP_IBU",
    "EKTP_STATUS",
}

# One element of a CALL_NIK reply's `content`, as a gateway sends it: long numbers as JSON numbers, region numbers
# as ints, names with trailing spaces, Oracle-style date. Synthetic person.
RAW = {
    "NIK": 3276015505850001,
    "NO_KK": 3276010101100002,
    "NAMA_LGKP": "SITI  AMINAH   ",
    "JENIS_KLMIN": "PEREMPUAN",
    "TMPT_LHR": "DEPOK ",
    "TGL_LHR": "15-MAY-85",
    "NO_AKTA_LHR": "3276-lt-15051985-0042",
    "ALAMAT": "JL. MARGONDA RAYA NO. 12 ",
    "NO_RT": "5",
    "NO_RW": 12,
    "KEL_NAME": "PANCORAN MAS",
    "NO_KEL": 1001,
    "KEC_NAME": "PANCORAN MAS",
    "NO_KEC": 1,
    "KAB_NAME": "KOTA DEPOK",
    "NO_KAB": 76,
    "PROP_NAME": "JAWA BARAT",
    "NO_PROP": 32,
    "KODE_POS": 16431,
    "DUSUN": "-",
    "AGAMA": "ISLAM",
    "GOL_DARAH": "TIDAK TAHU",
    "JENIS_PKRJN": "KARYAWAN SWASTA",
    "PDDK_AKH": "SLTA/SEDERAJAT",
    "STATUS_KAWIN": "KAWIN TERCATAT",
    "STAT_HBKEL": "ISTRI",
    "NAMA_LGKP_AYAH": "AHMAD  SUBAGJA ",
    "NAMA_LGKP_IBU": "NURHAYATI ",
    "EKTP_STATUS": "ELEKTRONIK",
}

EXPECTED = Citizen(
    nik="3276015505850001",
    kk_number="3276010101100002",
    full_name="SITI AMINAH",
    birth_place="DEPOK",
    birth_date=dt.date(1985, 5, 15),
    birth_certificate_no="3276-LT-15051985-0042",
    sex="P",
    religion=Religion.islam,
    marital_status=MaritalStatus.married,
    family_role="ISTRI",
    occupation="KARYAWAN SWASTA",
    education="SLTA/SEDERAJAT",
    blood_type=None,
    father_name="AHMAD SUBAGJA",
    mother_name="NURHAYATI",
    address=Address(
        street="JL. MARGONDA RAYA NO. 12",
        rt="005",
        rw="012",
        hamlet=None,
        village="PANCORAN MAS",
        village_code="32.76.01.1001",
        district="PANCORAN MAS",
        district_code="32.76.01",
        regency="KOTA DEPOK",
        regency_code="32.76",
        province="JAWA BARAT",
        province_code="32",
        postal_code="16431",
    ),
    life_status=LifeStatus.alive,
    ektp_status="ELEKTRONIK",
)


@pytest.fixture(scope="module")
def dukcapil():  # type: ignore[no-untyped-def]
    return load_mapping("dukcapil")


def test_reads_every_full_data_field(dukcapil) -> None:  # type: ignore[no-untyped-def]
    assert dukcapil.facet == "identity" and dukcapil.model is Citizen
    assert dukcapil.sources == DUKCAPIL_FIELDS


def test_raw_record_gives_the_expected_citizen(dukcapil) -> None:  # type: ignore[no-untyped-def]
    assert dukcapil.apply(RAW) == EXPECTED


def test_string_variant_of_the_same_record(dukcapil) -> None:  # type: ignore[no-untyped-def]
    """Another gateway: numbers as strings, ISO dates, RT already padded, codes as text."""
    raw = RAW | {"NIK": "3276015505850001", "NO_KK": "3276010101100002", "TGL_LHR": "1985-05-15", "NO_RT": "005",
                 "NO_RW": "012", "NO_PROP": "32", "NO_KAB": "76", "NO_KEC": "01", "NO_KEL": "1001", "KODE_POS": "16431",
                 "DUSUN": ""}
    assert dukcapil.apply(raw) == EXPECTED
    assert dukcapil.apply(raw | {"TGL_LHR": "15.05.1985"}) == EXPECTED


def test_other_labels(dukcapil) -> None:  # type: ignore[no-untyped-def]
    raw = RAW | {"JENIS_KLMIN": "LAKI-LAKI", "AGAMA": "KEPERCAYAAN TERHADAP TUHAN YME", "STATUS_KAWIN": "BELUM KAWIN",
                 "GOL_DARAH": "AB+", "DUSUN": "DUSUN II", "KODE_POS": 0, "NO_AKTA_LHR": "-"}
    citizen = dukcapil.apply(raw)
    assert (citizen.sex, citizen.religion, citizen.marital_status, citizen.blood_type) == (
        "L", Religion.belief, MaritalStatus.single, "AB+")
    assert citizen.address is not None
    assert (citizen.address.hamlet, citizen.address.postal_code) == ("DUSUN II", None)
    assert citizen.birth_certificate_no is None


def test_sparse_record_keeps_nulls(dukcapil) -> None:  # type: ignore[no-untyped-def]
    citizen = dukcapil.apply({"NIK": 3276015505850001, "NO_PROP": 32, "NO_KAB": 76})
    assert citizen == Citizen(nik="3276015505850001", address=Address(regency_code="32.76", province_code="32"))


def test_nik_that_went_through_a_float_is_refused(dukcapil) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MappingError) as info:
        dukcapil.apply(RAW | {"NIK": float(RAW["NIK"])})
    message = str(info.value)
    assert "'nik'" in message and "'NIK'" in message and "3276" not in message


def test_missing_nik_is_an_error(dukcapil) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MappingError, match=r"'nik' \(source 'NIK'\): required"):
        dukcapil.apply({k: v for k, v in RAW.items() if k != "NIK"})


def test_unknown_label_names_the_field_not_the_value(dukcapil) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MappingError) as info:
        dukcapil.apply(RAW | {"AGAMA": "SAMAWI"})
    assert "'religion'" in str(info.value) and "'AGAMA'" in str(info.value) and "SAMAWI" not in str(info.value)
