"""A connector packaged on its own is found and served without any change to Gerbang.

`gerbang connectors new` scaffolds a SOAP connector from a WSDL into a temporary folder; pip installs it into a
separate target directory (never the project's virtualenv); a `gerbang demo` subprocess with PYTHONPATH on that
directory discovers it through its `gerbang.connectors` entry point (importlib.metadata reads the dist-info there),
runs its simulator, lists it in GET /v1/agencies, reads its facet under the purpose the plug-in declares, and
dispatches an application to it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from connectors.simkit.population import Population
from core.cli.main import app

FIXTURE_WSDL = Path(__file__).with_name("fixtures") / "perpustakaan.wsdl"
KEY = "gbk_demo_key_for_tests_0123456789abcdef"
CONTEXT = {"Officer-Id": "petugas-01", "Counter-Id": "loket-01", "Mpp-Site": "mpp-test"}


def venv_bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def builds_in_place() -> bool:
    """Whether this environment can build a wheel without an isolated build environment (faster)."""
    version = tuple(int(p) for p in importlib.metadata.version("setuptools").split(".")[:2] if p.isdigit())
    return version >= (70, 1) or importlib.util.find_spec("wheel") is not None


def pip_install(project: Path, target: Path) -> None:
    """`pip install --no-deps --target TARGET PROJECT`: a separate package, outside the project's virtualenv."""
    args = [venv_bin("pip"), "install", "-q", "--no-deps", "--target", str(target)]
    args += ["--no-build-isolation"] if builds_in_place() else []
    done = subprocess.run(args + [str(project)], capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stdout + done.stderr


def scaffold_and_install(tmp_path: Path, name: str = "perpustakaan") -> Path:
    result = CliRunner().invoke(app, ["connectors", "new", name, "--soap", str(FIXTURE_WSDL), "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    target = tmp_path / "site"
    pip_install(tmp_path / f"gerbang-{name}", target)
    assert (target / f"gerbang_{name}" / "service.wsdl").is_file()  # the WSDL travels with the package
    return target


def test_installed_connector_is_discovered_served_and_reached(tmp_path: Path) -> None:
    target = scaffold_and_install(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(target), "GERBANG_DEMO_API_KEY": KEY, "GERBANG_DATA_DIR": str(tmp_path)}
    env.pop("GERBANG_DATABASE_URL", None)
    process = subprocess.Popen([venv_bin("gerbang"), "demo", "--port", "0"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()  # type: ignore[union-attr]
            if not line or "Ctrl-C" in line:
                break
            lines.append(line)
        banner = "".join(lines)
        api = next(line.split(" API at ")[1].split()[0] for line in lines if " API at " in line)
        sim = next(line.split()[1] for line in lines if line.strip().startswith("perpustakaan "))
        auth = {"Authorization": f"Bearer {KEY}", **CONTEXT}
        admin = {"Authorization": "Bearer " + next(line.split()[2] for line in lines if line.startswith("Admin key:"))}
        with httpx.Client(base_url=api, headers=auth, timeout=15) as client:
            listing = client.get("/v1/agencies", headers=admin).raise_for_status().json()  # health: admin only
            agencies = {a["name"]: a for a in listing["agencies"]}
            assert "perpustakaan" in agencies, banner
            assert agencies["perpustakaan"]["health"]["up"] is True
            assert set(agencies["perpustakaan"]["services"]) == {"daftar_anggota"}

            population = Population(seed=2024, size=500)   # the demo's population
            people = [p for p in population.people if p.in_dukcapil and p.life_status == "alive"][:12]
            facets = []
            for person in people:
                record = client.get(f"/v1/citizens/{person.nik}", params={"purpose": "perpustakaan_services"})
                assert record.status_code == 200, record.text
                facets.append((person, record.json()["facets"]["perpustakaan"]))
            known = [(p, f) for p, f in facets if f["provenance"]["status"] == "ok"]
            assert known and len(known) < len(facets), facets  # the simulator knows some people, not all
            person, facet = known[0]
            assert facet["provenance"]["agency"] == "perpustakaan"
            assert facet["data"]["full_name"] == person.name
            assert facet["data"]["birth_date"] == person.birth_date.isoformat()
            assert httpx.get(f"{sim}/_sim/stats").json()["requests"] >= len(facets)

            application = client.post("/v1/applications", headers={"Idempotency-Key": "oot-1"}, json={
                "nik": person.nik, "agency": "perpustakaan", "service": "daftar_anggota",
                "payload": {"nik": person.nik, "nama": person.name, "tanggalLahir": person.birth_date.isoformat()}})
            assert application.status_code == 202, application.text
            view: dict = {}
            settle_by = time.monotonic() + 30  # generous: a loaded CI machine runs the demo's dispatcher slowly
            while time.monotonic() < settle_by:
                view = client.get(f"/v1/applications/{application.json()['id']}").json()
                if view["status"] not in ("accepted", "queued", "submitting"):  # the non-final statuses
                    break
                time.sleep(0.1)
            assert view["status"] == "submitted", view
            assert view["agency_reference"].startswith("REF-")
            assert httpx.get(f"{sim}/_sim/stats").json()["submissions_total"] == 1
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert "Traceback" not in output, output


def test_without_the_package_the_agency_is_not_there(tmp_path: Path) -> None:
    """The control: the same listing without PYTHONPATH has no such connector (nothing leaked into the venv)."""
    listing = subprocess.run([venv_bin("gerbang"), "connectors", "list"], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and "samsat" in listing.stdout
    assert "perpustakaan" not in listing.stdout


def test_plugin_purposes_join_the_declared_ones_and_bad_ones_are_ignored(monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    """A plug-in adds purposes for its facet; one without the root facet, or redefining a declared purpose, is
    logged and ignored rather than taking the bus down."""
    import dataclasses

    from connectors.registry import discover
    from identity.purposes import load_purposes

    samsat = discover()["samsat"]
    plugin = dataclasses.replace(samsat, name="arsip", facet="arsip", purposes={
        "arsip_services": {"title": "Arsip", "facets": ["identity", "arsip"]},
        "arsip_without_identity": {"title": "No root", "facets": ["arsip"]},
        "identity_check": {"title": "Hijack", "facets": ["identity", "arsip"]},
    })
    monkeypatch.setattr("connectors.registry.discover", lambda: {"arsip": plugin})
    load_purposes.cache_clear()
    try:
        purposes = load_purposes()
        assert purposes["arsip_services"].facets == ("identity", "arsip")
        assert "arsip_without_identity" not in purposes
        assert purposes["identity_check"].facets == ("identity",)
        assert "arsip_without_identity" in caplog.text and "identity_check" in caplog.text
    finally:
        monkeypatch.undo()
        load_purposes.cache_clear()
    assert "arsip_services" not in load_purposes()
