"""`gerbang simulate serve --<agency>-allow ADDRESS`: an allow-list for any agency's simulator, named by the agency,
so the command names none (`--dukcapil-allow 0.0.0.0/0` is what docker compose passes)."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from core.cli.main import app
from core.cli.simulate import allow_lists


def test_allow_lists_are_read_per_agency() -> None:
    args = ["--dukcapil-allow", "0.0.0.0/0", "--dukcapil-allow=10.0.0.1", "--samsat-allow", "127.0.0.1"]
    assert allow_lists(args) == {"dukcapil": ["0.0.0.0/0", "10.0.0.1"], "samsat": ["127.0.0.1"]}
    assert allow_lists([]) == {}


@pytest.mark.parametrize("args", [["--verbose"], ["--dukcapil-allow"], ["stray"]])
def test_anything_else_is_refused(args: list[str]) -> None:
    with pytest.raises(typer.BadParameter):
        allow_lists(args)


def test_an_agency_without_a_simulator_is_refused_before_anything_starts() -> None:
    result = CliRunner().invoke(app, ["simulate", "serve", "--port-base", "0", "--nowhere-allow", "127.0.0.1"])
    assert result.exit_code != 0
    assert "no simulator for: nowhere" in result.output
