"""`gerbang audit …`: keygen, the offline verifier (exit 0, or 1 naming where; 2 for usage errors), and the
operator commands sequence / checkpoint / export on both backends."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from core.audit import note
from core.audit.checkpoint import Checkpoint, sign_checkpoint
from core.cli.main import app
from core.db.engine import normalise_url
from core.settings import get_settings
from tests.conftest import AUDIT_SIGNER_KEY, AUDIT_VERIFIER_KEY

runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GERBANG_DATABASE_URL", database_url)
    monkeypatch.setenv("GERBANG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GERBANG_SIGNING_KEY", AUDIT_SIGNER_KEY)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def invoke(*args: str) -> object:
    return runner.invoke(app, list(args))


def test_keygen_writes_a_private_file_and_prints_the_verifier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GERBANG_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    out = tmp_path / "keys" / "audit.key"
    result = runner.invoke(app, ["audit", "keygen", "--origin", "mpp.example.go.id/audit", "--out", str(out)])
    assert result.exit_code == 0, result.output
    vkey = result.stdout.strip()
    signer = note.parse_signer(out.read_text())
    assert signer.verifier.vkey == vkey and signer.name == "mpp.example.go.id/audit"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    again = runner.invoke(app, ["audit", "keygen", "--out", str(out)])
    assert again.exit_code == 2 and "refusing to overwrite" in again.output
    assert note.parse_signer(out.read_text()) == signer
    bad = runner.invoke(app, ["audit", "keygen", "--origin", "has space", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "invalid origin" in bad.output
    default = runner.invoke(app, ["audit", "keygen"])
    assert default.exit_code == 0 and (tmp_path / "audit-signer.key").exists()
    get_settings.cache_clear()


def test_sequence_checkpoint_export_verify_and_tamper(env: str, tmp_path: Path) -> None:
    for name in ("counter-1", "counter-2", "auditor"):
        assert invoke("clients", "add", name).exit_code == 0  # each an admin.client_created entry
    seq = invoke("audit", "sequence")
    assert seq.exit_code == 0, seq.output
    assert json.loads(seq.stdout) == {"sequenced": 3, "size": 3, "signed": [0, 3]}
    cp = invoke("audit", "checkpoint")
    assert cp.exit_code == 0 and cp.stdout.startswith("gerbang.test/audit\n3\n")
    (tmp_path / "early.cp").write_text(cp.stdout)
    for name in ("counter-3", "counter-4"):
        assert invoke("clients", "add", name).exit_code == 0
    assert invoke("audit", "sequence").exit_code == 0
    bundle = tmp_path / "bundle.json"
    exported = invoke("audit", "export", "--out", str(bundle))
    assert exported.exit_code == 0, exported.output
    key = tmp_path / "log.vkey"
    key.write_text(AUDIT_VERIFIER_KEY + "\n")

    ok = invoke("audit", "verify", str(bundle), "--key", str(key), "--earlier", str(tmp_path / "early.cp"))
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout) == {"ok": True, "origin": "gerbang.test/audit", "size": 5, "start": 0, "end": 5,
                                     "entries": 5, "checkpoints_checked": 4, "earlier_size": 3}

    forked = sign_checkpoint(Checkpoint("gerbang.test/audit", 3, b"\x09" * 32), note.parse_signer(AUDIT_SIGNER_KEY))
    (tmp_path / "forked.cp").write_text(forked)
    fork = invoke("audit", "verify", str(bundle), "--key", AUDIT_VERIFIER_KEY, "--earlier", str(tmp_path / "forked.cp"))
    assert fork.exit_code == 1 and "consistency" in fork.output

    engine = create_engine(normalise_url(env))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry WHERE leaf_index = 1"))
    engine.dispose()
    assert invoke("audit", "export", "--out", str(bundle)).exit_code == 0
    bad = invoke("audit", "verify", str(bundle), "--key", AUDIT_VERIFIER_KEY)
    assert bad.exit_code == 1 and "FAILED at index 1" in bad.output
    assert json.loads(bad.stdout)["kind"] == "entry"


def test_verify_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["audit", "verify", str(tmp_path / "nope.json"), "--key", AUDIT_VERIFIER_KEY])
    assert missing.exit_code == 2 and "cannot read" in missing.output
    (tmp_path / "b.json").write_text("{}")
    badkey = runner.invoke(app, ["audit", "verify", str(tmp_path / "b.json"), "--key", "not-a-key"])
    assert badkey.exit_code == 2 and "not a verifier key" in badkey.output
    garbage = runner.invoke(app, ["audit", "verify", str(tmp_path / "b.json"), "--key", AUDIT_VERIFIER_KEY])
    assert garbage.exit_code == 1 and "format" in garbage.output and "Traceback" not in garbage.output


def test_shared_database_requires_a_key(env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GERBANG_SIGNING_KEY")
    get_settings.cache_clear()
    result = invoke("audit", "sequence")
    if env.startswith("sqlite"):  # embedded default: generated on first use, then reused
        assert result.exit_code == 0, result.output
        assert (tmp_path / "data" / "audit-signer.key").exists()
    else:
        assert result.exit_code == 2 and "GERBANG_SIGNING_KEY_PATH" in result.output
    assert invoke("audit", "checkpoint").exit_code == (0 if env.startswith("sqlite") else 2)
