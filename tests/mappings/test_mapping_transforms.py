"""Every named transform with good and bad input; bad input raises TransformError without showing the value."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from mappings import codes
from mappings import transforms as t
from mappings.transforms import TRANSFORMS, TransformError

TODAY = dt.date(2024, 6, 1)


def rejects(fn, value, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    """Assert the transform rejects the value; return the message (checked not to contain the value)."""
    with pytest.raises(TransformError) as info:
        fn(value, *args, **kwargs)
    message = str(info.value)
    if isinstance(value, str | int | float) and len(str(value)) >= 3:
        assert str(value) not in message
    return message


def test_registry_has_the_documented_names() -> None:
    expected = {"strip", "upper", "name", "digits_exact", "pad", "int", "decimal", "bool", "date", "sex", "code",
                "religion", "marital", "blood_type", "region_code", "join", "null_if"}
    assert expected <= set(TRANSFORMS)


def test_register_transform_refuses_a_taken_name() -> None:
    with pytest.raises(ValueError, match="already registered"):
        t.register_transform("upper", lambda v: v)


# --- text -------------------------------------------------------------------------------------------------------


def test_strip_upper_name() -> None:
    assert t.strip("  Budi  ") == "Budi"
    assert t.strip(16111) == "16111"
    assert t.strip("   ") is None
    assert t.upper(" jl. merdeka ") == "JL. MERDEKA"
    assert t.name("BUDI   SANTOSO  ") == "BUDI SANTOSO"
    assert t.name("siti\taminah\n") == "SITI AMINAH"
    for fn in (t.strip, t.upper, t.name):
        rejects(fn, 12.5)
        rejects(fn, True)
        rejects(fn, ["BUDI"])


def test_null_if_and_join() -> None:
    assert t.null_if("-", ["-", "0"]) is None
    assert t.null_if(0, ["0"]) is None
    assert t.null_if(" 0 ", ["0"]) is None
    assert t.null_if("DUSUN I", ["-"]) == "DUSUN I"
    assert t.join(["BUDI", None, "SANTOSO"]) == "BUDI SANTOSO"
    assert t.join(["32", "76"], ".") == "32.76"
    assert t.join([None, " "]) is None
    rejects(t.join, [1.5])


# --- exact numbers ----------------------------------------------------------------------------------------------


def test_digits_exact_keeps_16_digit_ints_exact() -> None:
    assert int(float(9007199254740993)) != 9007199254740993  # why floats are refused: 2**53 + 1 does not survive
    assert t.digits_exact(3276015505850001) == "3276015505850001"
    assert t.digits_exact(" 3276015505850001 ") == "3276015505850001"
    assert t.digits_exact("0012", length=4) == "0012"
    assert t.digits_exact(9007199254740993) == "9007199254740993"  # 2**53 + 1


def test_digits_exact_rejects_floats_and_non_digits() -> None:
    assert "float" in rejects(t.digits_exact, 3276015505850001.0)
    rejects(t.digits_exact, 9007199254740993.0)
    rejects(t.digits_exact, "3276.015505850001")
    rejects(t.digits_exact, "3276 0155 0585 0001")
    rejects(t.digits_exact, "３２７６")  # full-width digits are not digits 0-9
    rejects(t.digits_exact, -327601)
    rejects(t.digits_exact, True)
    assert "16 digits" in rejects(t.digits_exact, "327601550585", length=16)


def test_pad() -> None:
    assert t.pad(5, 3) == "005"
    assert t.pad("5", 3) == "005"
    assert t.pad(" 012 ", 3) == "012"
    assert t.pad("0005", 3) == "005"
    assert t.pad(0, 3) == "000"
    rejects(t.pad, 1234, 3)
    rejects(t.pad, "5A", 3)
    rejects(t.pad, 5.0, 3)
    rejects(t.pad, -5, 3)


def test_int() -> None:
    assert t.to_int(7) == 7
    assert t.to_int(" 2019 ") == 2019
    assert t.to_int("-3") == -3
    rejects(t.to_int, 7.0)
    rejects(t.to_int, "7.5")
    rejects(t.to_int, "tujuh")
    rejects(t.to_int, False)


def test_decimal_is_exact_and_rejects_floats() -> None:
    assert t.to_decimal("1500000.50") == Decimal("1500000.50")
    assert str(t.to_decimal("0.10")) == "0.10"
    assert t.to_decimal(250000) == Decimal(250000)
    assert t.to_decimal(" -12 ") == Decimal(-12)
    assert t.to_decimal(Decimal("3.5")) == Decimal("3.5")
    assert "float" in rejects(t.to_decimal, 0.1)
    rejects(t.to_decimal, "1.500.000")
    rejects(t.to_decimal, "Rp 1500")
    rejects(t.to_decimal, "NaN")
    rejects(t.to_decimal, Decimal("Infinity"))
    rejects(t.to_decimal, True)


def test_bool() -> None:
    for yes in (True, 1, "1", "true", "Y", "ya", "T"):
        assert t.to_bool(yes) is True
    for no in (False, 0, "0", "FALSE", "n", "TIDAK", "f"):
        assert t.to_bool(no) is False
    rejects(t.to_bool, "MUNGKIN")
    rejects(t.to_bool, 2)
    rejects(t.to_bool, 1.0)


# --- dates ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["15.05.1985", "15-MAY-85", "15-May-85", "15-MEI-85", "1985-05-15", "15-05-1985", "1985/05/15", " 15.05.1985 "],
)
def test_date_accepts_every_gateway_format(text: str) -> None:
    assert t.to_date(text, today=TODAY) == dt.date(1985, 5, 15)


def test_date_indonesian_months() -> None:
    assert t.to_date("17-AGU-45", today=TODAY) == dt.date(1945, 8, 17)
    assert t.to_date("01-OKT-99", today=TODAY) == dt.date(1999, 10, 1)
    assert t.to_date("25-DES-10", today=TODAY) == dt.date(2010, 12, 25)


def test_date_century_rule_with_fixed_today() -> None:
    assert t.to_date("01-JUN-24", today=TODAY) == dt.date(2024, 6, 1)  # today itself is not the future
    assert t.to_date("02-JUN-24", today=TODAY) == dt.date(1924, 6, 2)
    assert t.to_date("15-JAN-05", today=TODAY) == dt.date(2005, 1, 15)
    assert t.to_date("15-JAN-68", today=TODAY) == dt.date(1968, 1, 15)  # strptime alone would say 2068
    assert t.to_date("15-JAN-70", today=TODAY) == dt.date(1970, 1, 15)
    assert t.to_date("29-FEB-00", today=TODAY) == dt.date(2000, 2, 29)
    assert t.to_date("29-FEB-96", today=TODAY) == dt.date(1996, 2, 29)


def test_date_century_rule_uses_today_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(t, "_today", lambda: dt.date(2010, 1, 1))
    assert t.to_date("15-MAY-15") == dt.date(1915, 5, 15)
    monkeypatch.setattr(t, "_today", lambda: dt.date(2020, 1, 1))
    assert t.to_date("15-MAY-15") == dt.date(2015, 5, 15)


def test_date_configured_formats() -> None:
    assert t.to_date("15/05/1985", formats=["%d/%m/%Y"]) == dt.date(1985, 5, 15)
    rejects(t.to_date, "1985-05-15", formats=["%d/%m/%Y"])
    assert t.to_date("850515", formats=["%y%m%d"], today=TODAY) == dt.date(1985, 5, 15)


def test_date_passes_dates_through() -> None:
    assert t.to_date(dt.date(1985, 5, 15)) == dt.date(1985, 5, 15)
    assert t.to_date(dt.datetime(1985, 5, 15, 10, 30)) == dt.date(1985, 5, 15)


def test_date_rejects_bad_input() -> None:
    rejects(t.to_date, "31.02.1985")  # not in the calendar
    rejects(t.to_date, "29-FEB-01", today=TODAY)
    rejects(t.to_date, "15 Mei 1985")
    rejects(t.to_date, "1985-13-01")
    rejects(t.to_date, 19850515)
    rejects(t.to_date, 1985.5)


# --- codes ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["LAKI-LAKI", "laki-laki ", "L", "PRIA", "1", 1])
def test_sex_male(label: object) -> None:
    assert codes.sex(label) == "L"


@pytest.mark.parametrize("label", ["PEREMPUAN", "P", "WANITA", "2", 2])
def test_sex_female(label: object) -> None:
    assert codes.sex(label) == "P"


def test_sex_rejects_unknown() -> None:
    rejects(codes.sex, "X")
    rejects(codes.sex, "LAKI")
    rejects(codes.sex, 3)


@pytest.mark.parametrize(
    ("label", "expected"),
    [("ISLAM", "islam"), ("KRISTEN", "protestant"), ("KATOLIK", "catholic"), ("HINDU", "hindu"),
     ("BUDHA", "buddhist"), ("BUDDHA", "buddhist"), ("KONGHUCU", "confucian"), ("KHONGHUCU", "confucian"),
     ("KEPERCAYAAN TERHADAP TUHAN YME", "belief"), ("KEPERCAYAAN", "belief"), ("islam ", "islam")],
)
def test_religion(label: str, expected: str) -> None:
    assert codes.religion(label) == expected


def test_religion_rejects_unknown() -> None:
    rejects(codes.religion, "LAINNYA")


@pytest.mark.parametrize(
    ("label", "expected"),
    [("BELUM KAWIN", "single"), ("KAWIN", "married"), ("KAWIN TERCATAT", "married"),
     ("KAWIN BELUM TERCATAT", "married"), ("CERAI HIDUP", "divorced"), ("CERAI MATI", "widowed"),
     ("cerai  mati", "widowed")],
)
def test_marital(label: str, expected: str) -> None:
    assert codes.marital(label) == expected


def test_marital_rejects_unknown() -> None:
    rejects(codes.marital, "PISAH")


def test_blood_type() -> None:
    assert codes.blood_type("TIDAK TAHU") is None
    assert codes.blood_type("-") is None
    assert codes.blood_type("ab") == "AB"
    assert codes.blood_type("O+") == "O+"
    assert codes.blood_type(" A - ") == "A-"
    rejects(codes.blood_type, "C")
    rejects(codes.blood_type, "ABO")


def test_code_table() -> None:
    table = {"01": "micro", "02": "small", "A": "active"}
    assert codes.code("01", table=table) == "micro"
    assert codes.code(" a ", table=table) == "active"
    assert codes.code("99", table=table, default=None) is None
    assert codes.code("99", table=table, default="other") == "other"
    rejects(codes.code, "99", table=table)
    rejects(codes.code, 1.0, table=table)


def test_code_table_checks() -> None:
    t.ARG_CHECKS["code"](table={"01": "x"}, default=None)
    with pytest.raises(TransformError, match="quoted"):
        t.ARG_CHECKS["code"](table={1: "x"})
    with pytest.raises(TransformError, match="quoted"):
        t.ARG_CHECKS["code"](table={False: "x"})
    with pytest.raises(TransformError):
        t.ARG_CHECKS["code"](table={})


def test_region_code_from_parts() -> None:
    assert codes.region_code([32, 76, 1, 1001]) == "32.76.01.1001"
    assert codes.region_code(["32", "76", "01", "1001"]) == "32.76.01.1001"
    assert codes.region_code([32, 76, 1]) == "32.76.01"
    assert codes.region_code([32, 76]) == "32.76"
    assert codes.region_code([32]) == "32"
    assert codes.region_code(32) == "32"
    assert codes.region_code([9, 1]) == "09.01"
    assert codes.region_code("32.76.1.1001") == "32.76.01.1001"
    assert codes.region_code([32, None, 1]) is None


def test_region_code_rejects_bad_parts() -> None:
    rejects(codes.region_code, [320, 76])
    rejects(codes.region_code, [32, 76, 1, 10010])
    rejects(codes.region_code, [32.0, 76])
    rejects(codes.region_code, [32, 76, 1, 1001, 5])
    rejects(codes.region_code, [])
    rejects(codes.region_code, ["3A", 76])
