"""`gerbang connectors new`: the scaffolded connector's own contract tests pass at once (REST, and SOAP from a WSDL,
including the WSDLs of the three built-in SOAP agencies), and bad input is a message and a non-zero exit with nothing
left behind."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.contract import check_connector, failures, table
from connectors.simkit.population import Population
from core.bus.service import schema_errors
from core.cli.main import app
from tests.connectors.test_schemas import unbounded

FIXTURES = Path(__file__).with_name("fixtures")
ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def new(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["connectors", "new", *args])
    return result.exit_code, result.output


def run_generated_tests(project: Path) -> str:
    """The scaffold's tests, run as an engineer would: pytest inside the new folder (its own pyproject config)."""
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # the generated tests need no plug-in: faster
    done = subprocess.run([str(Path(sys.executable).with_name("pytest")), "-q"], cwd=project, capture_output=True,
                          text=True, timeout=110, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_soap_scaffold_from_a_wsdl_passes_its_contract_tests(tmp_path: Path) -> None:
    code, output = new("perpustakaan", "--soap", str(FIXTURES / "perpustakaan.wsdl"), "--dir", str(tmp_path),
                       "--title", "Perpustakaan Nasional")
    assert code == 0, output
    project = tmp_path / "gerbang-perpustakaan"
    package = project / "gerbang_perpustakaan"
    assert {p.name for p in package.iterdir()} >= {"__init__.py", "client.py", "simulator.py", "facet.py",
                                                    "mapping.yaml", "service.wsdl"}
    assert (package / "service.wsdl").read_bytes() == (FIXTURES / "perpustakaan.wsdl").read_bytes()
    pyproject = (project / "pyproject.toml").read_text()
    assert '[project.entry-points."gerbang.connectors"]' in pyproject
    assert 'perpustakaan = "gerbang_perpustakaan:PLUGIN"' in pyproject
    client = (package / "client.py").read_text()
    assert 'WSDL = Path(__file__).with_name("service.wsdl")' in client and "SoapSession" in client
    assert "def test_simulator_serves_its_wsdl_at_the_endpoint" in (project / "tests" / "test_contract.py").read_text()
    # (its generated tests run as pytest in tests/core/test_writing_a_connector_doc.py; here, the kit in-process)
    assert_kit_passes(project, "perpustakaan")


def test_rest_scaffold_passes_its_contract_tests(tmp_path: Path) -> None:
    code, output = new("arsip", "--rest", "--dir", str(tmp_path))
    assert code == 0, output
    assert "3 passed" in run_generated_tests(tmp_path / "gerbang-arsip")


@pytest.mark.parametrize("agency", ["korlantas", "imigrasi", "bpjs_ketenagakerjaan"])
def test_the_builtin_agencies_wsdls_scaffold_into_passing_connectors(tmp_path: Path, agency: str) -> None:
    """Nested types, repeated elements, enumerations and declared headers: the generator copes with real WSDLs."""
    name = f"copy_{agency}"
    code, output = new(name, "--soap", str(ROOT / "connectors" / agency / "service.wsdl"), "--dir", str(tmp_path))
    assert code == 0, output
    assert_kit_passes(tmp_path / f"gerbang-{name}", name)


def assert_kit_passes(project: Path, name: str) -> None:
    """The contract kit against the scaffolded connector, in-process (faster than a pytest subprocess)."""
    sys.path.insert(0, str(project))
    try:
        plugin = importlib.import_module(f"gerbang_{name}").PLUGIN
        checks = check_connector(plugin, Population(seed=2024, size=100))
    finally:
        sys.path.remove(str(project))
    assert not failures(checks), "\n" + table(checks)
    # declared with agency_plugin, as the built-in agencies are: the agency's name, its own mapping, its simulator
    assert (plugin.name, plugin.mapping) == (name, name) and plugin.mapping_path.endswith("mapping.yaml")
    assert plugin.simulator.__doc__ == f"gerbang_{name}.simulator.simulator, imported on first call."
    for schema in plugin.services.values():  # bounded, with an example that passes (tests/connectors/test_schemas.py)
        assert unbounded(schema) == []
        assert schema["examples"] and all(schema_errors(schema, example) == [] for example in schema["examples"])


NO_OPERATIONS = """<?xml version="1.0"?>
<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:tns="urn:x" targetNamespace="urn:x">
  <wsdl:portType name="P"/>
  <wsdl:binding name="B" type="tns:P"><soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/></wsdl:binding>
  <wsdl:service name="S"><wsdl:port name="Q" binding="tns:B"><soap:address location="http://x.invalid/ws"/></wsdl:port></wsdl:service>
</wsdl:definitions>
"""


def _no_nik_wsdl() -> str:
    return (FIXTURES / "perpustakaan.wsdl").read_text().replace('name="nik"', 'name="nomor"')


@pytest.mark.parametrize(("args", "message"), [
    (["Perpus"], "not a connector name"),
    (["1perpus"], "not a connector name"),
    (["per-pus"], "not a connector name"),
    (["class"], "reserved"),
    (["identity"], "reserved"),
    (["samsat"], "already installed"),
    (["perpus", "--soap", "{tmp}/missing.wsdl"], "no such WSDL file"),
    (["perpus", "--soap", "{tmp}/notxml.wsdl"], "not a usable WSDL"),
    (["perpus", "--soap", "{tmp}/empty.wsdl"], "declares no operations"),
    (["perpus", "--soap", "{tmp}/nonik.wsdl"], "takes a `nik` element"),
    (["perpus", "--rest", "--soap", "{tmp}/empty.wsdl"], "exactly one of --rest or --soap"),
    (["perpus", "--rest", "--dir", "{tmp}/nowhere"], "is not a directory"),
])
def test_bad_input_is_a_message_and_a_non_zero_exit(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "notxml.wsdl").write_text("this is not XML")
    (tmp_path / "empty.wsdl").write_text(NO_OPERATIONS)
    (tmp_path / "nonik.wsdl").write_text(_no_nik_wsdl())
    out = tmp_path / "out"
    out.mkdir()
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--rest" not in args and "--soap" not in args:
        args.append("--rest")
    if "--dir" not in args:
        args += ["--dir", str(out)]
    code, output = new(*args)
    assert code != 0 and message in output, output
    assert "Traceback" not in output
    assert list(out.iterdir()) == []  # nothing half-written


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "gerbang-perpus").mkdir()
    (tmp_path / "gerbang-perpus" / "mine.txt").write_text("keep me")
    code, output = new("perpus", "--rest", "--dir", str(tmp_path))
    assert code != 0 and "already exists" in output
    assert [p.name for p in (tmp_path / "gerbang-perpus").iterdir()] == ["mine.txt"]
