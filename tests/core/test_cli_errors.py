"""The `gerbang` command on bad input and a bad environment: one line on stderr and a non-zero exit, never a
traceback, never a half-written file or an audit entry for work that then failed. Each case here printed a
traceback (or did the wrong thing and exited 0) before: found by a fuzzing pass over every command.

Run as a user would, in a subprocess (`python -m core.cli.main`, which is what the `gerbang` script calls), in a
scratch directory so the embedded SQLite database lands there.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.audit.bundle import BundleError, verify
from core.cli.common import atomic_file
from tests.database import migrated_sqlite


def gerbang(cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GERBANG_")}
    return subprocess.run([sys.executable, "-m", "core.cli.main", *args], cwd=cwd, env={**base, **(env or {})},
                          capture_output=True, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess[bytes], code: int, *words: str) -> str:
    err = result.stderr.decode(errors="replace")
    assert "Traceback" not in err, err
    assert result.returncode == code, (result.returncode, err, result.stdout)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err, err
    return err


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A scratch directory with a migrated embedded database where the CLI looks by default (a copy of the
    session's migrated one: `gerbang db upgrade` itself is tested in test_cli.py and here with a bad revision)."""
    (tmp_path / "gerbang-data").mkdir()
    migrated_sqlite(tmp_path / "gerbang-data" / "gerbang.db")
    return tmp_path


def test_a_setting_that_does_not_parse_is_named(tmp_path: Path) -> None:
    result = gerbang(tmp_path, "db", "upgrade", env={"GERBANG_BUS_PREFETCH": "abc"})
    assert_one_line_error(result, 2, "GERBANG_BUS_PREFETCH")


@pytest.mark.parametrize("url", ["postgresql://u@h:abc/x", "postgresql://[::1", "mysql://u@127.0.0.1:1/x"])
def test_a_database_url_that_is_not_one(tmp_path: Path, url: str) -> None:
    result = gerbang(tmp_path, "db", "current", env={"GERBANG_DATABASE_URL": url})
    assert_one_line_error(result, 2, "GERBANG_DATABASE_URL")


def test_an_unmigrated_database_says_what_to_run(tmp_path: Path) -> None:
    """...and which database file it looked at (the default one under the data folder)."""
    where = str(tmp_path.resolve() / "gerbang-data" / "gerbang.db")
    for command in (["audit", "sequence"], ["audit", "checkpoint"], ["clients", "list"], ["applications", "dead"]):
        assert_one_line_error(gerbang(tmp_path, *command), 1 if command[0] == "audit" else 2,
                              "gerbang db upgrade", where)


def test_an_unknown_revision(tmp_path: Path) -> None:
    assert_one_line_error(gerbang(tmp_path, "db", "upgrade", "bogus"), 2, "bogus")


def test_an_argument_that_is_not_utf8(workdir: Path) -> None:
    bad = os.fsdecode(b"\xff\xfe")
    assert_one_line_error(gerbang(workdir, "applications", "replay", bad), 2, "UTF-8")


@pytest.mark.parametrize("rate", ["inf", "1e309", "nan", "2e6"])
def test_a_client_rate_must_be_a_number_of_requests(workdir: Path, rate: str) -> None:
    result = gerbang(workdir, "clients", "add", "slow", "--scopes", "application:read", "--rate", rate)
    assert result.returncode != 0 and b"Traceback" not in result.stderr, result.stderr
    assert b"rate" in result.stderr


def test_revoking_an_empty_key_id_does_not_revoke_every_key(workdir: Path) -> None:
    assert gerbang(workdir, "clients", "add", "c1", "--scopes", "application:read").returncode == 0
    for empty in ("", ",", " "):
        assert_one_line_error(gerbang(workdir, "clients", "revoke", "c1", "--key-id", empty), 2, "--key-id")
    shown = json.loads(gerbang(workdir, "clients", "show", "c1").stdout)
    assert [k for k in shown["keys"] if k.get("revoked_at") is None], shown


@pytest.mark.parametrize("grace", ["inf", "nan", "1e20"])
def test_a_rotation_grace_in_hours_of_this_world(workdir: Path, grace: str) -> None:
    assert gerbang(workdir, "clients", "add", "c2", "--scopes", "application:read").returncode == 0
    assert_one_line_error(gerbang(workdir, "clients", "rotate-key", "c2", "--grace", grace), 2, "--grace")


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_ports_outside_the_range_are_usage_errors(tmp_path: Path, command: str) -> None:
    result = gerbang(tmp_path, command, "--port", "70000")
    assert result.returncode == 2 and b"Traceback" not in result.stderr, result.stderr


def test_an_origin_with_a_control_character_is_refused(tmp_path: Path) -> None:
    result = gerbang(tmp_path, "audit", "keygen", "--origin", "a\x01b", "--out", str(tmp_path / "k.key"))
    assert_one_line_error(result, 2, "origin")
    assert not (tmp_path / "k.key").exists()


def test_a_report_to_a_path_it_cannot_write_records_nothing(workdir: Path) -> None:
    assert gerbang(workdir, "clients", "add", "c3", "--scopes", "application:read").returncode == 0
    for out in (workdir, workdir / "missing" / "r.txt"):
        result = gerbang(workdir, "report", "usage", "--client", "c3", "--from", "2026-01-01", "--to", "2026-01-31",
                         "--out", str(out))
        assert_one_line_error(result, 2, "cannot write")
    assert "admin.usage_report" not in audit_actions(workdir)
    done = gerbang(workdir, "report", "usage", "--client", "c3", "--from", "2026-01-01", "--to", "2026-01-31",
                   "--out", str(workdir / "r.txt"))
    assert done.returncode == 0, done.stderr
    assert audit_actions(workdir).count("admin.usage_report") == 1  # the check above can see one


def audit_actions(workdir: Path) -> list[str]:
    """Every audit action recorded in the scratch directory's embedded database (sequenced or not)."""
    with sqlite3.connect(workdir / "gerbang-data" / "gerbang.db") as db:  # the default database
        return [r[0] for table in ("audit_pending", "audit_entry") for r in db.execute(f"SELECT action FROM {table}")]


def test_a_report_period_to_the_end_of_the_calendar(workdir: Path) -> None:
    assert gerbang(workdir, "clients", "add", "c4", "--scopes", "application:read").returncode == 0
    result = gerbang(workdir, "report", "usage", "--client", "c4", "--from", "0001-01-01", "--to", "9999-12-31")
    assert_one_line_error(result, 2, "9999")


def test_a_connector_title_that_would_break_the_project(tmp_path: Path) -> None:
    for title in ('Foo"bar', "a\\b", "x\ny"):
        result = gerbang(tmp_path, "connectors", "new", "agen_x", "--rest", "--dir", str(tmp_path), "--title", title)
        assert result.returncode != 0 and b"Traceback" not in result.stderr, result.stderr
        assert b"title" in result.stderr
    assert not (tmp_path / "gerbang-agen_x").exists()


def test_a_deeply_nested_bundle_is_a_format_error() -> None:
    with pytest.raises(BundleError, match="nested too deeply"):
        verify("[" * 100_000, "gerbang.example/log+01234567+AAAA")


def test_a_file_written_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "bundle.json"
    target.write_text("earlier", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        with atomic_file(target) as handle:
            handle.write("half of a new one")
            raise KeyboardInterrupt
    assert target.read_text(encoding="utf-8") == "earlier"
    assert [p.name for p in tmp_path.iterdir()] == ["bundle.json"]  # no partial file left beside it
    with atomic_file(target) as handle:
        handle.write("whole")
    assert target.read_text(encoding="utf-8") == "whole"


def test_a_worker_that_cannot_reach_the_broker_stops_on_ctrl_c(workdir: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GERBANG_")}
    env = {**base, "GERBANG_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F", "GERBANG_AMQP_RECONNECT_MAX_S": "1"}
    worker = subprocess.Popen([sys.executable, "-m", "core.cli.main", "worker"], cwd=workdir, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(3)
        assert worker.poll() is None, worker.communicate()
        started = time.monotonic()
        worker.send_signal(signal.SIGINT)
        worker.wait(timeout=15)
        assert time.monotonic() - started < 8
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_an_earlier_checkpoint_that_names_no_file_is_a_usage_error(tmp_path: Path) -> None:
    from tests.conftest import AUDIT_VERIFIER_KEY

    (tmp_path / "b.json").write_text("{}", encoding="utf-8")
    for earlier in (str(tmp_path / "missing.txt"), ""):
        result = gerbang(tmp_path, "audit", "verify", str(tmp_path / "b.json"), "--key", AUDIT_VERIFIER_KEY,
                         "--earlier", earlier)
        assert_one_line_error(result, 2, "--earlier")


def test_a_replay_operator_goes_into_the_signed_log_only_as_a_printable_name(workdir: Path) -> None:
    for operator in ("\x1b[31mred", "x" * 101, " "):
        result = gerbang(workdir, "applications", "replay", "00000000-0000-0000-0000-000000000000",
                         "--operator", operator)
        assert_one_line_error(result, 2, "--operator")


@pytest.mark.parametrize("wait", ["inf", "nan", "1e20"])
def test_a_key_rotation_checks_its_wait_before_saving_a_key(workdir: Path, wait: str) -> None:
    secrets = workdir / "gerbang-data" / "secrets.json"
    before = secrets.read_bytes() if secrets.exists() else None
    assert_one_line_error(gerbang(workdir, "keys", "rotate", "--wait", wait), 2, "--wait")
    assert (secrets.read_bytes() if secrets.exists() else None) == before
