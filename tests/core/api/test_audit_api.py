"""The audit log through the API: reads and verifications are logged with a keyed subject (never the NIK), the
auditor's endpoints answer with proofs that verify with core.audit, exports verify offline with the CLI (and
fail naming the index once the database is tampered with), access history answers the data subject's question,
and every endpoint checks its scope."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from core.audit import decode_entry, merkle, note
from core.audit.checkpoint import check_consistent, open_checkpoint
from core.cli.main import app as cli
from core.db.engine import normalise_url
from tests.conftest import AUDIT_VERIFIER_KEY
from tests.core.conftest import POPULATION

ALIVE = [p for p in POPULATION.people if p.life_status == "alive" and p.in_dukcapil]
UNKNOWN = next(p for p in POPULATION.people if not p.in_dukcapil)
runner = CliRunner()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keys(add_client) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    return {
        "counter": bearer(add_client("counter-7", ["citizen:read:*", "citizen:verify"], ["identity_check"])),
        "auditor": bearer(add_client("auditor-1", ["audit:read"])),
        "dpo": bearer(add_client("dpo-desk", ["subjects:history"])),
        "nobody": bearer(add_client("nobody", [])),
    }


def read(api: TestClient, headers: dict[str, str], nik: str, **extra: str) -> Any:
    return api.get(f"/v1/citizens/{nik}", headers={**headers, **extra}, params={"purpose": "identity_check"})


def b64(s: str) -> bytes:
    return base64.b64decode(s)


def stored_bytes(database_url: str) -> list[bytes]:
    engine = create_engine(normalise_url(database_url))
    with engine.connect() as conn:
        rows = [bytes(r[0]) for r in conn.execute(text("SELECT data FROM audit_entry"))]
        rows += [str(r).encode() for r in conn.execute(text("SELECT * FROM audit_pending"))]
    engine.dispose()
    return rows


def test_reads_are_logged_with_a_keyed_subject_never_the_nik(make_api, keys, database_url) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    person = ALIVE[0]
    assert read(api, keys["counter"], person.nik, **{"Counter-Id": "mpp-depok-3"}).status_code == 200
    assert read(api, keys["counter"], UNKNOWN.nik).status_code == 404
    verify = api.post(f"/v1/citizens/{person.nik}/verify", headers=keys["counter"],
                      params={"purpose": "identity_check"}, json={"full_name": person.name, "sex": "L"})
    assert verify.status_code == 200, verify.text
    body = api.get("/v1/audit/entries", headers=keys["auditor"], params={"action": "citizen.*"}).json()
    entries = [e["entry"] for e in body["entries"]]
    assert [e["action"] for e in entries] == ["citizen.read", "citizen.read", "citizen.verify"]
    ok, missing, checked = entries
    assert ok["client"] == "counter-7" and len(ok["subject"]) == 64
    assert ok["detail"]["purpose"] == "identity_check" and ok["detail"]["asked"] == ["identity"]
    assert ok["detail"]["facets"]["identity"] == {"agency": "dukcapil", "status": "ok", "cached": False}
    assert ok["detail"]["counter"] == {"officer": "petugas-01", "counter": "mpp-depok-3", "site": "mpp-test"}
    assert missing["detail"]["outcome"] == "citizen_not_found" and missing["subject"] != ok["subject"]
    assert checked["subject"] == ok["subject"] and checked["agency"] == "dukcapil"
    assert set(checked["detail"]["results"]) == {"full_name", "sex"}
    for data in stored_bytes(database_url):
        assert person.nik.encode() not in data and UNKNOWN.nik.encode() not in data
        assert person.name.encode() not in data


def test_entries_carry_proofs_against_the_signed_checkpoint(make_api, keys) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    for person in ALIVE[:3]:
        for _ in range(2):
            assert read(api, keys["counter"], person.nik).status_code == 200
    vkey = api.get("/v1/audit/key").text.strip()
    assert vkey == AUDIT_VERIFIER_KEY
    first = api.get("/v1/audit/entries", headers=keys["auditor"],
                    params={"subject_nik": ALIVE[1].nik, "limit": 1})
    assert first.status_code == 200, first.text
    page = first.json()
    cp = open_checkpoint(page["checkpoint"], vkey)
    assert cp.size == page["size"]
    assert len(page["entries"]) == 1 and page["next_cursor"]
    second = api.get("/v1/audit/entries", headers=keys["auditor"],
                     params={"subject_nik": ALIVE[1].nik, "limit": 5, "cursor": page["next_cursor"]}).json()
    found = page["entries"] + second["entries"]
    assert second["next_cursor"] is None  # two reads, then the auditor's own two queries about this subject
    assert [e["entry"]["action"] for e in found] == ["citizen.read", "citizen.read", "audit.query", "audit.query"]
    cp2 = open_checkpoint(second["checkpoint"], vkey)
    for item in found:
        data = b64(item["data"])
        assert decode_entry(data) == item["entry"]
        root = cp.root_hash if item in page["entries"] else cp2.root_hash
        size = cp.size if item in page["entries"] else cp2.size
        merkle.verify_inclusion(merkle.leaf_hash(data), item["index"], size, [b64(p) for p in item["proof"]], root)

    inclusion = api.get("/v1/audit/proof/inclusion", headers=keys["auditor"],
                        params={"index": found[0]["index"], "size": cp.size}).json()
    merkle.verify_inclusion(b64(inclusion["leaf_hash"]), found[0]["index"], cp.size,
                            [b64(p) for p in inclusion["proof"]], cp.root_hash)
    consistency = api.get("/v1/audit/proof/consistency", headers=keys["auditor"],
                          params={"from": cp.size}).json()
    newest = open_checkpoint(consistency["checkpoint_to"], vkey)
    assert consistency["to"] == newest.size > cp.size
    check_consistent(cp, newest, [b64(p) for p in consistency["proof"]])
    with_cp = api.get("/v1/audit/checkpoint", headers=keys["auditor"])
    assert with_cp.headers["content-type"].startswith("text/plain")
    assert open_checkpoint(with_cp.text, vkey).size > newest.size  # the checkpoint query itself is logged


def test_filters_and_admin_actions(make_api, keys) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    assert read(api, keys["counter"], ALIVE[0].nik).status_code == 200
    created = api.get("/v1/audit/entries", headers=keys["auditor"], params={"action": "admin.client_created"}).json()
    assert [e["entry"]["client"] for e in created["entries"]] == ["counter-7", "auditor-1", "dpo-desk", "nobody"]
    assert created["entries"][0]["entry"]["detail"]["scopes"] == ["citizen:read:*", "citizen:verify"]
    by_client = api.get("/v1/audit/entries", headers=keys["auditor"], params={"client": "counter-7"}).json()
    assert {e["entry"]["action"] for e in by_client["entries"]} == {"admin.client_created", "citizen.read"}
    by_agency = api.get("/v1/audit/entries", headers=keys["auditor"], params={"agency": "dukcapil"}).json()
    assert by_agency["entries"] == []
    later = api.get("/v1/audit/entries", headers=keys["auditor"],
                    params={"since": "2999-01-01T00:00:00Z", "action": "citizen.read"}).json()
    assert later["entries"] == []
    window = api.get("/v1/audit/entries", headers=keys["auditor"],
                     params={"since": "2000-01-01T00:00:00+07:00", "until": "2999-01-01T00:00:00Z",
                             "action": "citizen.read"}).json()
    assert len(window["entries"]) == 1
    queries = api.get("/v1/audit/entries", headers=keys["auditor"], params={"action": "audit.query"}).json()
    assert queries["entries"][-1]["entry"]["detail"]["endpoint"] == "entries"
    assert queries["entries"][-1]["entry"]["client"] == "auditor-1"


def test_export_verifies_offline_and_tampering_is_named(make_api, keys, database_url, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    for person in ALIVE[:4]:
        assert read(api, keys["counter"], person.nik).status_code == 200
    early = api.get("/v1/audit/checkpoint", headers=keys["auditor"]).text
    (tmp_path / "early.cp").write_text(early)
    (tmp_path / "key.vkey").write_text(api.get("/v1/audit/key").text)
    for person in ALIVE[4:6]:
        assert read(api, keys["counter"], person.nik).status_code == 200
    early_size = int(early.split("\n")[1])
    response = api.get("/v1/audit/export", headers=keys["auditor"], params={"from": early_size + 1,
                                                                           "earlier": [early_size]})
    assert response.status_code == 200, response.text
    bundle_path = tmp_path / "bundle.json"
    bundle_path.write_bytes(response.content)
    ok = runner.invoke(cli, ["audit", "verify", str(bundle_path), "--key", str(tmp_path / "key.vkey"),
                             "--earlier", str(tmp_path / "early.cp")])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True

    full = api.get("/v1/audit/export", headers=keys["auditor"])
    bundle_path.write_bytes(full.content)
    assert runner.invoke(cli, ["audit", "verify", str(bundle_path), "--key", AUDIT_VERIFIER_KEY]).exit_code == 0
    engine = create_engine(normalise_url(database_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET data = :d WHERE leaf_index = 5"), {"d": b'{"action":"x.y"}'})
    engine.dispose()
    bundle_path.write_bytes(api.get("/v1/audit/export", headers=keys["auditor"], params={"to": 9}).content)
    bad = runner.invoke(cli, ["audit", "verify", str(bundle_path), "--key", AUDIT_VERIFIER_KEY])
    assert bad.exit_code == 1 and "index 5" in bad.output
    assert json.loads(bad.stdout)["index"] == 5


def test_access_history_answers_who_read_whom(make_api, keys) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    person, other = ALIVE[0], ALIVE[1]
    assert read(api, keys["counter"], person.nik).status_code == 200
    assert read(api, keys["counter"], other.nik).status_code == 200
    assert read(api, keys["counter"], person.nik).status_code == 200
    response = api.get(f"/v1/citizens/{person.nik}/access-history", headers=keys["dpo"])
    assert response.status_code == 200, response.text
    history = response.json()
    assert history["nik"] == person.nik
    reads = [e for e in history["entries"] if e["action"] == "citizen.read"]
    assert len(reads) == 2
    assert all(e["client"] == "counter-7" and e["purpose"] == "identity_check" and e["time"].endswith("Z")
               and e["facets"] == ["identity"] for e in reads)
    assert history["entries"][-1]["action"] == "citizen.history"  # asking is itself recorded
    bad = api.get("/v1/citizens/12345/access-history", headers=keys["dpo"])
    assert bad.status_code == 400 and bad.json()["code"] == "nik_invalid"
    page = api.get(f"/v1/citizens/{person.nik}/access-history", headers=keys["dpo"], params={"limit": 1}).json()
    assert len(page["entries"]) == 1 and page["next_cursor"]


@pytest.mark.parametrize(("path", "params"), [
    ("/v1/audit/checkpoint", {}), ("/v1/audit/entries", {}), ("/v1/audit/proof/inclusion", {"index": 0}),
    ("/v1/audit/proof/consistency", {"from": 1}), ("/v1/audit/export", {}),
])
def test_auditor_endpoints_need_audit_read(make_api, keys, path: str, params: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    for who in ("nobody", "counter", "dpo"):
        response = api.get(path, headers=keys[who], params=params)
        assert response.status_code == 403 and response.json()["code"] == "scope_missing"
    assert api.get(path, params=params).status_code == 401


def test_access_history_needs_its_scope(make_api, keys) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    for who in ("auditor", "counter", "nobody"):
        response = api.get(f"/v1/citizens/{ALIVE[0].nik}/access-history", headers=keys[who])
        assert response.status_code == 403 and response.json()["code"] == "scope_missing"


@pytest.mark.parametrize(("path", "params", "code"), [
    ("/v1/audit/proof/inclusion", {"index": 10**9}, "audit_range"),
    ("/v1/audit/proof/inclusion", {"index": 0, "size": 10**9}, "audit_range"),
    ("/v1/audit/proof/consistency", {"from": 10**9}, "audit_range"),
    ("/v1/audit/export", {"from": 5, "to": 2}, "audit_range"),
    ("/v1/audit/entries", {"cursor": "abc"}, "cursor_invalid"),
    ("/v1/audit/entries", {"action": "DROP TABLE"}, "action_invalid"),
    ("/v1/audit/entries", {"subject_nik": "31710115059"}, "nik_invalid"),
    ("/v1/audit/entries", {"limit": 0}, "request_invalid"),
    ("/v1/audit/entries", {"since": "yesterday"}, "request_invalid"),
])
def test_bad_parameters_are_problems(make_api, keys, path: str, params: dict[str, Any], code: str) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    response = api.get(path, headers=keys["auditor"], params=params)
    assert response.status_code in (400, 422) and response.json()["code"] == code, response.text


def test_key_is_public_and_names_the_origin(make_api) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    response = api.get("/v1/audit/key")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert note.parse_verifier(response.text).name == "gerbang.test/audit"


def test_a_damaged_tree_is_a_503_not_a_traceback(make_api, keys, database_url) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    for person in ALIVE[:3]:
        assert read(api, keys["counter"], person.nik).status_code == 200
    assert api.get("/v1/audit/checkpoint", headers=keys["auditor"]).status_code == 200  # all sequenced
    engine = create_engine(normalise_url(database_url))
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_node"))
    engine.dispose()
    for path, params in (("/v1/audit/proof/inclusion", {"index": 0, "size": 4}), ("/v1/audit/export", {"from": 1})):
        response = api.get(path, headers=keys["auditor"], params=params)
        assert response.status_code == 503 and response.json()["code"] == "audit_unavailable", response.text
