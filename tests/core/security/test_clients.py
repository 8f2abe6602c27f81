"""Clients and agreements: the CLI and the admin API do the same things; an expired or not-yet-valid agreement is
403 with its code, a revoked key, a key past its rotation grace or a disabled client is 401 within seconds; every
change is an audit entry; keys are never shown again."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from core.cli.main import app as cli
from core.security.clients import today_wib
from core.settings import get_settings
from tests.core.conftest import POPULATION

runner = CliRunner()
PERSON = next(p for p in POPULATION.people if p.life_status == "alive" and p.in_dukcapil)
PROPAGATION_S = 4.0  # the principal cache lives 2 s; a change must show within that (plus scheduling)


@pytest.fixture
def gerbang(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Callable[..., Any]:
    """`gerbang("clients", "show", "x")` against the test database; returns (exit code, parsed JSON lines, output)."""
    monkeypatch.setenv("GERBANG_DATABASE_URL", database_url)
    get_settings.cache_clear()

    def invoke(*args: str) -> tuple[int, list[Any], str]:
        result = runner.invoke(cli, list(args))
        lines = []
        for line in result.stdout.splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                pass
        return result.exit_code, lines, result.output

    yield invoke
    get_settings.cache_clear()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def read(api: Any, key: str) -> Any:
    return api.get(f"/v1/citizens/{PERSON.nik}", headers=bearer(key), params={"purpose": "identity_check"})


def until(check: Callable[[], bool], seconds: float = PROPAGATION_S) -> float:
    """Seconds until `check()` holds (fails the test after `seconds`)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.1)
    return time.monotonic() - started


def add(gerbang: Callable[..., Any], name: str, *extra: str) -> str:
    code, lines, output = gerbang("clients", "add", name, "--scopes", "citizen:read:*", "--purposes",
                                  "identity_check", *extra)
    assert code == 0, output
    return str(lines[0]["api_key"])


def test_agreement_dates_decide_access(make_api, gerbang) -> None:  # type: ignore[no-untyped-def]
    today = today_wib()  # read at run time: a date taken at import goes stale across midnight WIB
    api = make_api()
    current = add(gerbang, "in-force", "--agreement", "PKS-001/2025", "--agreement-from",
                  (today - dt.timedelta(days=30)).isoformat(), "--agreement-to", today.isoformat())
    expired = add(gerbang, "expired", "--agreement", "PKS-002/2024", "--agreement-to",
                  (today - dt.timedelta(days=1)).isoformat())
    future = add(gerbang, "future", "--agreement", "PKS-003/2026", "--agreement-from",
                 (today + dt.timedelta(days=1)).isoformat())
    assert read(api, current).status_code == 200  # the last day of an agreement is still in force
    refused = read(api, expired)
    assert refused.status_code == 403 and refused.json()["code"] == "agreement_expired"
    assert refused.json()["agreement"] == "PKS-002/2024"
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert read(api, future).json()["code"] == "agreement_not_started"
    # the agreement lapses while the client is in use: refused within seconds, without a restart
    assert read(api, current).status_code == 200
    code, _, output = gerbang("clients", "update", "in-force", "--agreement-to",
                              (today - dt.timedelta(days=1)).isoformat())
    assert code == 0, output
    until(lambda: read(api, current).status_code == 403)
    # renewed: accepted again
    assert gerbang("clients", "update", "in-force", "--agreement", "PKS-009/2026", "--agreement-to",
                   (today + dt.timedelta(days=180)).isoformat())[0] == 0
    until(lambda: read(api, current).status_code == 200)


def test_revoked_rotated_and_disabled_keys_stop_within_seconds(make_api, gerbang) -> None:  # type: ignore[no-untyped-def]
    api = make_api()
    first = add(gerbang, "counter-9")
    assert read(api, first).status_code == 200
    code, lines, _ = gerbang("clients", "rotate-key", "counter-9", "--grace", "1")
    second = lines[0]["api_key"]
    assert code == 0 and second != first
    assert read(api, first).status_code == 200 and read(api, second).status_code == 200  # within the grace
    code, lines, _ = gerbang("clients", "rotate-key", "counter-9", "--grace", "0")
    third = lines[0]["api_key"]
    took = until(lambda: read(api, first).status_code == 401 and read(api, second).status_code == 401)
    assert took < PROPAGATION_S and read(api, third).status_code == 200
    assert read(api, first).json()["code"] == "unauthenticated"
    shown = gerbang("clients", "show", "counter-9")[1][0]
    assert [k["live"] for k in shown["keys"]] == [False, False, True]
    assert all(third not in json.dumps(line) for line in gerbang("clients", "list")[1])

    assert gerbang("clients", "disable", "counter-9")[0] == 0
    until(lambda: read(api, third).status_code == 401)
    assert gerbang("clients", "enable", "counter-9")[0] == 0
    until(lambda: read(api, third).status_code == 200)
    code, lines, _ = gerbang("clients", "revoke", "counter-9")
    assert code == 0 and lines[0]["revoked"] == [shown["keys"][2]["key_id"]]
    until(lambda: read(api, third).status_code == 401)


@pytest.mark.parametrize(("args", "message"), [
    (["clients", "add", "x", "--agreement-to", "2025-01-01"], "agreement's reference"),
    (["clients", "add", "x", "--agreement", "PKS-1", "--agreement-from", "2025-02-01", "--agreement-to",
      "2025-01-01"], "ends before it starts"),
    (["clients", "add", "x", "--agreement", "PKS-1", "--agreement-to", "31-12-2025"], "YYYY-MM-DD"),
    (["clients", "add", "x", "--kind", "robot"], "unknown kind"),
    (["clients", "show", "nobody"], "no client named"),
    (["clients", "rotate-key", "nobody"], "no client named"),
    (["clients", "revoke", "nobody"], "no client named"),
    (["clients", "disable", "nobody"], "no client named"),
    (["clients", "update", "nobody", "--kind", "agency"], "no client named"),
])
def test_cli_refusals_are_messages(gerbang, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    code, _, output = gerbang(*args)
    assert code == 2 and message in output and "Traceback" not in output


def test_admin_api_manages_clients(make_api, add_client) -> None:  # type: ignore[no-untyped-def]
    today = today_wib()  # read at run time: a date taken at import goes stale across midnight WIB
    api = make_api()
    admin = bearer(add_client("operator", ["admin"]))
    counter = bearer(add_client("plain", ["citizen:read:*"], ["identity_check"]))
    body = {"name": "kanim-jaksel", "kind": "agency", "scopes": ["citizen:read:*"], "purposes": ["identity_check"],
            "agreement": {"reference": "PKS-IMI-7/2025", "valid_from": "2025-01-01",
                          "valid_to": (today + dt.timedelta(days=10)).isoformat()},
            "rate_limit": {"per_s": 5, "burst": 10}}
    assert api.post("/v1/admin/clients", headers=counter, json=body).json()["code"] == "scope_missing"
    created = api.post("/v1/admin/clients", headers=admin, json=body)
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]
    assert created.headers["location"] == "/v1/admin/clients/kanim-jaksel"
    client = created.json()["client"]
    assert client["kind"] == "agency" and client["agreement"]["state"] == "in_force"
    assert client["rate_limit"] == {"per_s": 5.0, "burst": 10} and len(client["keys"]) == 1
    assert read(api, key).status_code == 200
    assert api.post("/v1/admin/clients", headers=admin, json=body).json()["code"] == "client_exists"
    for bad in ({**body, "name": "x", "scopes": ["citizen:raed"]}, {**body, "name": "x", "purposes": ["nosy"]},
                {**body, "name": "x", "agreement": {"reference": "P", "valid_from": "2025-02-01",
                                                   "valid_to": "2025-01-01"}}):
        assert api.post("/v1/admin/clients", headers=admin, json=bad).json()["code"] == "client_invalid"
    assert api.post("/v1/admin/clients", headers=admin, json={**body, "name": "y", "extra": 1}).status_code == 422

    listing = api.get("/v1/admin/clients", headers=admin).json()["clients"]
    assert [c["name"] for c in listing] == ["kanim-jaksel", "operator", "plain"]
    assert key not in json.dumps(listing)

    lapsed = api.patch("/v1/admin/clients/kanim-jaksel", headers=admin, json={"agreement": {
        "reference": "PKS-IMI-7/2025", "valid_to": (today - dt.timedelta(days=1)).isoformat()}})
    assert lapsed.status_code == 200 and lapsed.json()["agreement"]["state"] == "agreement_expired"
    assert lapsed.json()["agreement"]["valid_from"] is None and lapsed.json()["rate_limit"]["per_s"] == 5.0
    assert read(api, key).json()["code"] == "agreement_expired"  # at once in the process that changed it
    api.patch("/v1/admin/clients/kanim-jaksel", headers=admin, json={"agreement": None, "rate_limit": None})
    assert read(api, key).status_code == 200

    rotated = api.post("/v1/admin/clients/kanim-jaksel/keys", headers=admin, json={"grace_s": 0})
    assert rotated.status_code == 201
    new_key = rotated.json()["api_key"]
    assert read(api, key).status_code == 401 and read(api, new_key).status_code == 200
    assert api.post("/v1/admin/clients/kanim-jaksel/disable", headers=admin).json()["disabled"] is True
    assert read(api, new_key).status_code == 401
    assert api.post("/v1/admin/clients/kanim-jaksel/enable", headers=admin).status_code == 200
    key_id = rotated.json()["client"]["keys"][-1]["key_id"]
    revoked = api.post("/v1/admin/clients/kanim-jaksel/revoke", headers=admin, json={"key_ids": [key_id]})
    assert revoked.json() == {"revoked": [key_id]}
    assert read(api, new_key).status_code == 401
    assert api.post("/v1/admin/clients/kanim-jaksel/revoke", headers=admin, json={"key_ids": ["gbk_nope"]}
                    ).json()["code"] == "client_invalid"
    assert api.get("/v1/admin/clients/nobody", headers=admin).json()["code"] == "client_not_found"

    auditor = bearer(add_client("auditor", ["audit:read"]))
    entries = api.get("/v1/audit/entries", headers=auditor, params={"client": "kanim-jaksel"}).json()["entries"]
    actions = [e["entry"]["action"] for e in entries if e["entry"]["action"].startswith("admin.")]
    assert actions == ["admin.client_created", "admin.client_updated", "admin.client_updated",
                       "admin.client_key_rotated", "admin.client_disabled", "admin.client_enabled",
                       "admin.client_key_revoked"]
    assert all(e["entry"]["detail"]["by"] == "operator" for e in entries if e["entry"]["action"] != "citizen.read"
               and "detail" in e["entry"])
