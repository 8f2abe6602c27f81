"""Subscriptions through the API, end to end with real submissions: the agency's receiver gets signed batches
that verify with the recipes of docs/callbacks.md (the documented receiver code itself is run)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.core.bus.helpers import FAST, SUPPLY, submit, wait_status, wait_until
from tests.core.callbacks.helpers import receiver

DOC = Path(__file__).resolve().parents[3] / "docs" / "callbacks.md"
CALLBACKS = {"callback_allowed_hosts": ["127.0.0.1"], "callback_poll_s": 0.05, "callback_retry_base_s": 0.05}


def documented_receiver() -> dict[str, Any]:
    """The receiver example of docs/callbacks.md, executed."""
    text = DOC.read_text(encoding="utf-8")
    code = re.search(r"<!-- receiver-example -->\n```python\n(.*?)```", text, re.DOTALL)
    assert code, "docs/callbacks.md lost its receiver example"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace


@pytest.fixture
def counter(add_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {add_client('counter', ['application:submit:*', 'application:read'])}"}


@pytest.fixture
def operator(add_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {add_client('operator', ['admin'])}"}


def test_submissions_reach_the_agency_signed(make_api, counter, operator) -> None:  # type: ignore[no-untyped-def]
    api = make_api(**FAST, **CALLBACKS)
    with receiver() as (state, server):
        created = api.post("/v1/subscriptions", headers=operator, json={
            "agency": "oss", "url": f"{server.url}/hook", "events": ["application.accepted", "application.submitted"],
            "batch_max": 4, "batch_window_s": 0.2})
        assert created.status_code == 201, created.text
        sub = created.json()
        assert sub["secret"].startswith("whsec_") and sub["status"] == "active"
        ids = [submit(api, counter, SUPPLY.repeatable("oss"))["id"] for _ in range(3)]
        for app_id in ids:
            wait_status(api, counter, app_id, {"submitted"})

        def events() -> list[dict[str, Any]]:
            return [e for body, _ in list(state.seen) for e in json.loads(body)["events"]]

        wait_until(lambda: len(events()) >= 6, 10, what="accepted + submitted of each")
        seen = events()
        for app_id in ids:
            mine = [e["type"] for e in seen if e["data"]["application_id"] == app_id]
            assert mine == ["application.accepted", "application.submitted"]
        assert all(e["data"].get("reference") for e in seen if e["type"] == "application.submitted")
        assert len({e["id"] for e in seen}) == 6

        receiving = documented_receiver()
        vkey = api.get("/v1/audit/key").text
        for body, headers in state.seen:
            assert receiving["receive"](body, headers, secret=sub["secret"], verifier_key=vkey)
            with pytest.raises(ValueError):
                receiving["receive"](body, headers, secret="whsec_wrong")
            with pytest.raises(ValueError):
                receiving["receive"](body.replace(b"oss", b"os5"), headers, verifier_key=vkey)

        def delivered() -> list[dict[str, Any]] | None:
            # the receiver has the body before the deliverer has settled the batch: wait for the settle
            rows = api.get(f"/v1/subscriptions/{sub['id']}/deliveries", headers=operator).json()["deliveries"]
            return rows if rows and all(d["status"] == "delivered" for d in rows) else None

        assert wait_until(delivered, 10, what="every batch settled as delivered")
        pulled = api.get(f"/v1/subscriptions/{sub['id']}/events", headers=operator, params={"limit": 4}).json()
        assert len(pulled["events"]) == 4
        rest = api.get(f"/v1/subscriptions/{sub['id']}/events", headers=operator,
                       params={"after": pulled["next_after"]}).json()
        assert [e["id"] for e in pulled["events"] + rest["events"]] == [e["id"] for e in seen]

        rotated = api.post(f"/v1/subscriptions/{sub['id']}/rotate-secret", headers=operator).json()
        assert rotated["secret"] != sub["secret"]
        before = len(state.seen)
        submit(api, counter, SUPPLY.repeatable("oss"))
        wait_until(lambda: len(state.seen) > before, 10, what="a batch after rotation")
        body, headers = state.seen[-1]
        assert receiving["check_hmac"](body, headers["gerbang-signature"], rotated["secret"])
        assert not receiving["check_hmac"](body, headers["gerbang-signature"], sub["secret"])

        audit = api.get("/v1/subscriptions/" + sub["id"], headers=operator).json()
        assert audit["id"] == sub["id"] and "secret" not in audit
        assert api.delete(f"/v1/subscriptions/{sub['id']}", headers=operator).status_code == 204
        assert api.get(f"/v1/subscriptions/{sub['id']}", headers=operator).status_code == 404


def test_subscription_input_is_checked(make_api, operator, counter) -> None:  # type: ignore[no-untyped-def]
    api = make_api(**CALLBACKS)
    good = {"agency": "oss", "url": "http://127.0.0.1:9/hook", "events": ["application.submitted"]}
    for url in ("http://10.0.0.1/hook", "http://localhost:9/hook", "file:///etc/passwd", "ftp://127.0.0.1/x",
                "http://user:pw@127.0.0.1/x", "not a url"):
        answer = api.post("/v1/subscriptions", headers=operator, json={**good, "url": url})
        assert answer.status_code == 400 and answer.json()["code"] == "callback_url_not_allowed", url
    answer = api.post("/v1/subscriptions", headers=operator, json={**good, "events": ["application.exploded"]})
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_subscription"
    assert api.post("/v1/subscriptions", headers=operator, json={**good, "batch_max": 0}).status_code == 422
    assert api.post("/v1/subscriptions", headers=counter, json=good).status_code == 403
    assert api.get("/v1/subscriptions/nope", headers=operator).json()["code"] == "subscription_not_found"
    sub = api.post("/v1/subscriptions", headers=operator, json=good).json()
    answer = api.post(f"/v1/subscriptions/{sub['id']}/replay", headers=operator, params={"from_event": "nope"})
    assert answer.status_code == 404 and answer.json()["code"] == "event_not_found"
    assert api.get(f"/v1/subscriptions/{sub['id']}/events", headers=operator,
                   params={"after": "nope"}).status_code == 404
    nothing = make_api()  # no allow-list: no callbacks at all
    answer = nothing.post("/v1/subscriptions", headers=operator, json=good)
    assert answer.status_code == 400
