"""The `gerbang` command: migrations, clients, and the demo started as a user would, in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from core.cli.main import app
from core.settings import get_settings

runner = CliRunner()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GERBANG_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def test_db_upgrade_is_idempotent(cli_env: str) -> None:
    for _ in range(2):
        result = runner.invoke(app, ["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "database at revision" in result.output


def test_clients_add_prints_key_once_and_list_hides_it(cli_env: str) -> None:
    result = runner.invoke(app, ["clients", "add", "mpp-depok-1", "--scopes", "citizen:read:*,citizen:verify",
                                 "--purposes", "identity_check"])
    assert result.exit_code == 0, result.output
    added = json.loads(result.stdout.splitlines()[0])
    assert added["api_key"].startswith("gbk_")
    assert added["scopes"] == ["citizen:read:*", "citizen:verify"]
    listing = runner.invoke(app, ["clients", "list"])
    assert listing.exit_code == 0 and "mpp-depok-1" in listing.stdout
    assert added["api_key"] not in listing.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["clients", "add", "x", "--scopes", "citizen:raed"], "unknown scope"),
    (["clients", "add", "x", "--purposes", "curiosity"], "unknown purpose"),
])
def test_clients_add_bad_input_is_a_message_not_a_traceback(cli_env: str, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output


def test_duplicate_client_is_refused(cli_env: str) -> None:
    assert runner.invoke(app, ["clients", "add", "twice"]).exit_code == 0
    result = runner.invoke(app, ["clients", "add", "twice"])
    assert result.exit_code == 2 and "already exists" in result.output


def gerbang_bin() -> str:
    return str(Path(sys.executable).with_name("gerbang"))


def test_demo_runs_answers_and_stops_cleanly(tmp_path: Path) -> None:
    key = "gbk_demo_key_for_tests_0123456789abcdef"
    env = {**os.environ, "GERBANG_DEMO_API_KEY": key, "GERBANG_DATA_DIR": str(tmp_path)}
    env.pop("GERBANG_DATABASE_URL", None)
    process = subprocess.Popen([gerbang_bin(), "demo", "--port", "0"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        lines = banner_of(process)
        banner = "".join(lines)
        assert key in banner, banner
        urls = [line.split()[-1].strip("'") for line in lines
                if line.strip().startswith("curl") and "purpose=" in line]
        assert [u.rsplit("purpose=", 1)[1] for u in urls] == ["identity_check", "business_licensing"]
        assert all("Officer-Id" in line for line in lines if "purpose=" in line)  # the counter context
        context = {"Officer-Id": "petugas-01", "Counter-Id": "loket-01", "Mpp-Site": "mpp-demo"}
        records = [httpx.get(u, headers={"Authorization": f"Bearer {key}", **context}, timeout=10) for u in urls]
        assert all(r.status_code == 200 for r in records), [r.text for r in records]
        assert records[0].json()["facets"]["identity"]["provenance"]["status"] == "ok"
        full = records[1].json()["facets"]
        assert list(full) == ["identity", "business", "employment_insurance", "health_insurance"]
        assert all(f["provenance"]["status"] in ("ok", "not_found") for f in full.values()), full
        for name in ("dukcapil", "bpjs_kesehatan", "bpjs_ketenagakerjaan", "oss", "samsat", "korlantas", "imigrasi"):
            assert name in banner
        assert (tmp_path / "gerbang.db").exists()  # the default database under GERBANG_DATA_DIR
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "stopped" in output and "Traceback" not in output


def test_demo_takes_a_double_ctrl_c_as_one(tmp_path: Path) -> None:
    """An impatient double Ctrl-C (two SIGINTs within a second) still stops the demo cleanly: the app's shutdown
    runs, no traceback, exit status 0. (uvicorn alone force-quits on the second one.)"""
    env = {**os.environ, "GERBANG_DATA_DIR": str(tmp_path)}
    env.pop("GERBANG_DATABASE_URL", None)
    process = subprocess.Popen([gerbang_bin(), "demo", "--port", "0"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()  # type: ignore[union-attr]
            if not line or "Ctrl-C" in line:
                break
        time.sleep(0.5)  # past start-up: the server is serving
    finally:
        process.send_signal(signal.SIGINT)
        time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Gerbang demo stopped." in output
    assert "Traceback" not in output and "CancelledError" not in output, output


def start_demo(cwd: Path, port: int = 0) -> tuple[subprocess.Popen[str], list[str]]:
    """`gerbang demo` in `cwd` with no GERBANG_ settings at all, and the banner it printed once it was up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GERBANG_")}
    process = subprocess.Popen([gerbang_bin(), "demo", "--port", str(port)], env=env, cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return process, banner_of(process)


def banner_of(process: subprocess.Popen[str]) -> list[str]:
    """The lines a starting demo printed up to its closing "Ctrl-C" line (at most a minute's worth)."""
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()  # type: ignore[union-attr]
        if not line:
            break
        lines.append(line)
        if "Ctrl-C" in line:
            break
    return lines


def stop_demo(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    return output


def banner_value(lines: list[str], label: str) -> str:
    return next(line.split(label, 1)[1].split()[0] for line in lines if line.startswith(label))


def test_demo_and_cli_share_one_database_and_the_demo_keeps_its_keys(tmp_path: Path) -> None:
    """Run from one folder, the CLI acts on the running demo's database; a restart reuses the demo's two keys
    (no pile of live keys); the counter key holds counter scopes only, the admin key opens /v1/admin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GERBANG_")}
    process, lines = start_demo(tmp_path)
    try:
        banner = "".join(lines)
        counter, admin = banner_value(lines, "Demo API key:"), banner_value(lines, "Admin key:")
        assert counter != admin, banner
        assert str(tmp_path.resolve() / "gerbang-data" / "gerbang.db") in banner  # where the CLI will look too
        api = next(line.split(" API at ")[1].split()[0] for line in lines if " API at " in line)
        assert httpx.get(f"{api}/v1/admin/clients", headers={"Authorization": f"Bearer {counter}"}).status_code == 403
        assert httpx.get(f"{api}/v1/audit/entries", headers={"Authorization": f"Bearer {counter}"}).status_code == 403
        assert httpx.get(f"{api}/v1/admin/clients", headers={"Authorization": f"Bearer {admin}"}).status_code == 200
        added = subprocess.run([gerbang_bin(), "clients", "add", "beside-the-demo", "--scopes", "citizen:read:*",
                                "--purposes", "identity_check"], cwd=tmp_path, env=env, capture_output=True,
                               text=True, timeout=60)
        assert added.returncode == 0, added.stderr
        names = httpx.get(f"{api}/v1/admin/clients", headers={"Authorization": f"Bearer {admin}"}).text
        assert "beside-the-demo" in names  # the demo sees what the CLI wrote: one database
    finally:
        stop_demo(process)
    assert not (tmp_path / "gerbang.db").exists()  # no second database in the working folder
    process, again = start_demo(tmp_path)
    try:
        assert banner_value(again, "Demo API key:") == counter and banner_value(again, "Admin key:") == admin
    finally:
        stop_demo(process)
    listing = subprocess.run([gerbang_bin(), "clients", "list"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=60)
    clients = {c["client"]: c for c in map(json.loads, listing.stdout.splitlines())}
    assert clients["demo-counter"]["live_keys"] == 1 and clients["demo-admin"]["live_keys"] == 1
    assert "admin" not in clients["demo-counter"]["scopes"] and "audit:read" not in clients["demo-counter"]["scopes"]
    assert (tmp_path / "gerbang-data" / "demo-keys.json").stat().st_mode & 0o077 == 0  # kept private
    assert (tmp_path / "gerbang-data" / "gerbang.db").stat().st_mode & 0o077 == 0  # as private as its keys


def test_demo_prints_no_banner_when_the_api_does_not_start(tmp_path: Path) -> None:
    """The banner promises that its curl lines work, so a start-up that fails (here: the API's lifespan refuses a
    signer key that is not one) ends non-zero without it."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GERBANG_")}, "GERBANG_SIGNING_KEY": "bogus"}
    result = subprocess.run([gerbang_bin(), "demo", "--port", "0"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "GERBANG_SIGNING_KEY" in result.stdout + result.stderr
    assert "Demo API key" not in result.stdout + result.stderr and "curl" not in result.stdout
