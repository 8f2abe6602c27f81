"""Data-key rotation: after `gerbang keys rotate` every stored ciphertext is under the new key, data written before
is still readable (by the running API, without a restart, and after one), and old keys can be retired — but never
while something still needs them."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from core.cli.main import app as cli
from core.db import make_engine
from core.security.rotation import keys_in_use, reencrypt
from core.settings import get_settings
from identity.secrecy import DataKeys
from tests.conftest import BUS_SECRETS
from tests.core.bus.helpers import FAST, SUPPLY, wait_status
from tests.core.conftest import POPULATION

runner = CliRunner()
ALIVE = [p for p in POPULATION.people if p.life_status == "alive" and p.in_dukcapil]


def key(kid: str) -> str:
    return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"


@pytest.fixture
def start_api(make_api: Callable[..., TestClient]) -> Callable[[str | None], TestClient]:
    """`start_api(data_keys)`: an API on the test database; data_keys None = the embedded secrets file."""
    return lambda data_keys: make_api(data_keys=data_keys or None, **FAST)


@pytest.fixture
def gerbang(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Callable[..., Any]:
    """`gerbang("keys", "rotate", data_keys=…)` in-process against the test database and data directory."""

    def invoke(*args: str, data_keys: str | None = None) -> tuple[int, list[Any], str]:
        monkeypatch.setenv("GERBANG_DATABASE_URL", database_url)
        monkeypatch.setenv("GERBANG_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("GERBANG_NIK_HASH_KEY", BUS_SECRETS["nik_hash_key"])
        if data_keys:
            monkeypatch.setenv("GERBANG_DATA_KEYS", data_keys)
        else:
            monkeypatch.delenv("GERBANG_DATA_KEYS", raising=False)
        get_settings.cache_clear()
        try:
            result = runner.invoke(cli, list(args))
        finally:
            get_settings.cache_clear()
        lines = []
        for line in result.stdout.splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                lines.append(line)
        return result.exit_code, lines, result.output

    return invoke


def write_data(api: TestClient, headers: dict[str, str]) -> tuple[list[str], str]:
    """Cached facets for three people and one submitted application (payload and agency result)."""
    people = [p.nik for p in ALIVE[:3]]
    for nik in people:
        reply = api.get(f"/v1/citizens/{nik}", headers=headers, params={"purpose": "business_licensing"})
        assert reply.status_code == 200, reply.text
    request = SUPPLY.repeatable("oss")
    reply = api.post("/v1/applications", json=request, headers={**headers, "Idempotency-Key": str(uuid.uuid4())})
    assert reply.status_code == 202, reply.text
    app_id = reply.json()["id"]
    assert wait_status(api, headers, app_id)["status"] == "submitted"
    return people, app_id


def assert_readable(api: TestClient, headers: dict[str, str], people: list[str], app_id: str) -> None:
    """Everything written earlier opens: cached facets come from the cache, the application shows the agency's
    answer."""
    for nik in people:
        record = api.get(f"/v1/citizens/{nik}", headers=headers, params={"purpose": "business_licensing"}).json()
        assert all(f["provenance"]["cached"] for f in record["facets"].values()), record["facets"]
    view = api.get(f"/v1/applications/{app_id}", headers=headers).json()
    assert view["status"] == "submitted" and view["agency_detail"] is not None, view


def in_use(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    try:
        return dict(keys_in_use(engine))
    finally:
        engine.dispose()


def test_embedded_rotation_while_the_api_runs(start_api, gerbang, add_client, database_url: str,  # type: ignore[no-untyped-def]
                                              tmp_path: Path) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the secrets file is the embedded (SQLite) arrangement; distributed is tested below")
    headers = {"Authorization": "Bearer " + add_client(
        "counter", ["citizen:read:*", "application:submit:*", "application:read"], ["business_licensing"])}
    api = start_api(None)
    people, app_id = write_data(api, headers)
    assert set(in_use(database_url)) == {"k1"}

    code, lines, output = gerbang("keys", "rotate", "--wait", "1.5")
    assert code == 0, output
    summary = lines[0]
    assert summary["added"] == "k2" and summary["active"] == "k2" and summary["retirable"] == ["k1"]
    assert summary["reencrypted"]["cache"] >= 9 and summary["reencrypted"]["application_payloads"] == 1
    assert summary["reencrypted"]["application_results"] == 1
    assert set(in_use(database_url)) == {"k2"}
    assert_readable(api, headers, people, app_id)  # the running API, no restart
    api.get(f"/v1/citizens/{ALIVE[5].nik}", headers=headers, params={"purpose": "business_licensing"})
    assert set(in_use(database_url)) == {"k2"}  # and it now encrypts with the new key

    code, lines, output = gerbang("keys", "rotate", "--retire", "--wait", "1.5")
    assert code == 0 and lines[0]["retired"] == ["k2", "k1"], output
    stored = json.loads((tmp_path / "secrets.json").read_text())
    assert [part.split(":")[0] for part in stored["data_keys"].split(",")] == ["k3"]
    assert oct((tmp_path / "secrets.json").stat().st_mode & 0o777) == "0o600"
    assert_readable(api, headers, people, app_id)
    restarted = start_api(None)
    assert_readable(restarted, headers, people, app_id)

    code, _, output = gerbang("keys", "retire", "k3")
    assert code == 2 and "active key" in output
    code, lines, _ = gerbang("keys", "list")
    assert lines[0]["key_id"] == "k3" and lines[0]["active"] and lines[0]["ciphertexts"] >= 13


def test_distributed_rotation_in_stages(start_api, gerbang, add_client, database_url: str) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": "Bearer " + add_client(
        "counter", ["citizen:read:*", "application:submit:*", "application:read"], ["business_licensing"])}
    old = key("k1")
    people, app_id = write_data(start_api(old), headers)

    code, lines, _ = gerbang("keys", "add", data_keys=old)  # stage 1: every process learns the new key
    staged = lines[0].split("=", 1)[1]
    assert code == 0 and staged.startswith(old + ",k2:")
    code, lines, _ = gerbang("keys", "add", "--activate", data_keys=old)
    assert lines[0].split("=", 1)[1].startswith("k2:")
    new = staged.split(",")[1]
    active_new = f"{new},{old}"  # stage 2: deployed with the new key first
    api = start_api(active_new)
    assert_readable(api, headers, people, app_id)

    code, lines, output = gerbang("keys", "retire", "k1", data_keys=active_new)
    assert code == 2 and "still protects" in output  # nothing is retired while it is needed
    code, lines, output = gerbang("keys", "rotate", data_keys=active_new)  # stage 3: re-encrypt
    assert code == 0 and lines[0]["added"] is None and lines[0]["retirable"] == ["k1"], output
    assert set(in_use(database_url)) == {"k2"}
    code, lines, output = gerbang("keys", "rotate", "--retire", data_keys=active_new)  # stage 4
    assert code == 0 and lines[0]["GERBANG_DATA_KEYS"] == new, output
    assert_readable(start_api(new), headers, people, app_id)


def test_what_no_key_opens(database_url: str, sessions) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO facet_cache (key, facet, agency, key_id, payload, fetched_at, expires_at) "
                              "VALUES ('x', 'identity', 'dukcapil', 'gone', :p, :t, :t)"),
                         {"p": b"\0" * 40, "t": "2030-01-01T00:00:00+00:00"})
        done = reencrypt(engine, DataKeys.parse(key("k9")))
        assert done.cache_dropped == 1 and keys_in_use(engine) == {}
    finally:
        engine.dispose()
