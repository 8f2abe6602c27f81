"""core.cli.nik: `parse` prints JSON Lines and exits 1 when any NIK is invalid; arguments or stdin."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from core.cli.nik import app

VALID_MAN = "3276011203850003"
VALID_WOMAN = "32.76.01-520385-0003"
OLD_MERAUKE = "9101011203850003"  # valid, with a region_unknown warning
INVALID = "3276013204850000"  # bad day code and serial 0000
KEYS = [
    "input", "valid", "nik", "errors", "warnings", "sex", "birth_date",
    "province_code", "regency_code", "district_code", "province", "regency", "district", "serial",
]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


def test_valid_arguments_exit_0(runner: CliRunner) -> None:
    result = runner.invoke(app, ["parse", VALID_MAN, VALID_WOMAN, OLD_MERAUKE])
    assert result.exit_code == 0, result.output
    rows = lines(result.stdout)
    assert [list(r) for r in rows] == [KEYS] * 3
    assert [r["input"] for r in rows] == [VALID_MAN, VALID_WOMAN, OLD_MERAUKE]
    assert [r["sex"] for r in rows] == ["L", "P", "L"]
    assert rows[0]["birth_date"] == "1985-03-12"
    assert rows[0]["regency"] == "Kota Depok"
    assert rows[2]["warnings"][0]["code"] == "region_unknown"
    assert all(r["valid"] for r in rows)


def test_any_invalid_exits_1_and_still_prints_every_result(runner: CliRunner) -> None:
    result = runner.invoke(app, ["parse", VALID_MAN, INVALID, "not a nik"])
    assert result.exit_code == 1
    rows = lines(result.stdout)
    assert [r["valid"] for r in rows] == [True, False, False]
    assert [e["code"] for e in rows[1]["errors"]] == ["birth_day_invalid", "serial_invalid"]
    assert [e["code"] for e in rows[2]["errors"]] == ["nik_format"]
    assert [list(e) for e in rows[1]["errors"]] == [["code", "message"]] * 2
    assert "Traceback" not in result.output


def test_non_ascii_is_printed_as_is(runner: CliRunner) -> None:
    full_width = "３２７６０１１２０３８５０００３"
    result = runner.invoke(app, ["parse", full_width])
    assert result.exit_code == 1
    assert full_width in result.stdout  # ensure_ascii=False
    assert lines(result.stdout)[0]["input"] == full_width


def test_stdin_one_per_line_skipping_blank_lines(runner: CliRunner) -> None:
    text = f"{VALID_MAN}\n\n   \n{VALID_WOMAN}\r\n {OLD_MERAUKE} \n"
    result = runner.invoke(app, ["parse"], input=text)
    assert result.exit_code == 0, result.output
    rows = lines(result.stdout)
    assert [r["nik"] for r in rows] == [VALID_MAN, "3276015203850003", OLD_MERAUKE]
    assert rows[2]["input"] == f" {OLD_MERAUKE} "


def test_stdin_with_an_invalid_line_exits_1(runner: CliRunner) -> None:
    result = runner.invoke(app, ["parse"], input=f"{VALID_MAN}\n{INVALID}\n")
    assert result.exit_code == 1
    assert [r["valid"] for r in lines(result.stdout)] == [True, False]


def test_stdin_bytes_that_are_not_utf8_are_a_format_error_not_a_traceback(runner: CliRunner) -> None:
    result = runner.invoke(app, ["parse"], input=b"\xef\xbb\xbf" + VALID_MAN.encode() + b"\n\xff\xfe32\n")
    assert result.exit_code == 1
    assert not isinstance(result.exception, UnicodeError)
    rows = lines(result.stdout)
    assert rows[0]["valid"] is True  # a leading byte-order mark is dropped
    assert rows[1]["errors"][0]["code"] == "nik_format"


def test_empty_stdin_prints_nothing_and_exits_0(runner: CliRunner) -> None:
    result = runner.invoke(app, ["parse"], input="\n\n")
    assert result.exit_code == 0
    assert result.stdout == ""


def test_help_names_the_command(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "parse" in result.stdout
