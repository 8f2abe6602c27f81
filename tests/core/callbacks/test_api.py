"""Subscriptions through the API, end to end with real submissions: the agency's receiver gets batches signed the
Standard Webhooks way, verified with the reference library from PyPI (`standardwebhooks`, the receiver's side, not
our code) and with the `v1a` recipe of docs/callbacks.md (the documented receiver code itself is run)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import standardwebhooks.webhooks
from standardwebhooks import Webhook, WebhookVerificationError

from tests.core.bus.helpers import FAST, SUPPLY, submit, wait_status, wait_until
from tests.core.callbacks.helpers import receiver

DOC = Path(__file__).resolve().parents[3] / "docs" / "callbacks.md"
CALLBACKS = {"callback_allowed_hosts": ["127.0.0.1"], "callback_poll_s": 0.05, "callback_retry_base_s": 0.05}


def documented_receiver() -> dict[str, Any]:
    """The receiver examples of docs/callbacks.md (the library one and the `v1a` one), executed."""
    text = DOC.read_text(encoding="utf-8")
    namespace: dict[str, Any] = {}
    for marker in ("receiver-example", "receiver-example-v1a"):
        code = re.search(rf"<!-- {marker} -->\n```python\n(.*?)```", text, re.DOTALL)
        assert code, f"docs/callbacks.md lost its {marker}"
        exec(compile(code.group(1), str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace


class _Later(dt.datetime):
    """The receiver's clock ten minutes on: a captured batch replayed late."""

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
        return dt.datetime.now(tz) + dt.timedelta(minutes=10)


def sent_signatures(headers: dict[str, str], version: str) -> list[str]:
    return [s for s in headers["webhook-signature"].split(" ") if s.startswith(version + ",")]


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
        whpk = api.get("/v1/audit/key/webhook").text.strip()
        assert whpk.startswith("whpk_")
        for body, headers in state.seen:
            assert headers["webhook-id"] == json.loads(body)["batch_id"]
            assert len(sent_signatures(headers, "v1")) == 1 and len(sent_signatures(headers, "v1a")) == 1
            assert not any(name.startswith("gerbang-") for name in headers)  # the home-made headers are gone
            assert Webhook(sub["secret"]).verify(body, headers)["batch_id"] == headers["webhook-id"]
            assert receiving["receive"](body, headers, sub["secret"])["events"]
            assert receiving["receive_v1a"](body, headers, whpk)["events"]
            with pytest.raises(WebhookVerificationError):
                Webhook("whsec_" + "A" * 43 + "=").verify(body, headers)  # another secret
            tampered = body.replace(b"oss", b"os5")
            assert tampered != body
            with pytest.raises(WebhookVerificationError):
                Webhook(sub["secret"]).verify(tampered, headers)
            with pytest.raises(ValueError):
                receiving["receive_v1a"](tampered, headers, whpk)
            with pytest.raises(WebhookVerificationError):  # the id is signed too: a batch cannot pose as another
                Webhook(sub["secret"]).verify(body, {**headers, "webhook-id": "another-batch"})
            moved = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)}
            with pytest.raises(ValueError):  # the timestamp is signed: it cannot be refreshed by a replayer
                receiving["receive_v1a"](body, moved, whpk)
        body, headers = state.seen[0]
        with pytest.MonkeyPatch.context() as later:  # the same real batch, replayed ten minutes later
            later.setattr(standardwebhooks.webhooks, "datetime", _Later)
            with pytest.raises(WebhookVerificationError, match="too old"):
                Webhook(sub["secret"]).verify(body, headers)

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
        assert rotated["secret"] != sub["secret"] and rotated["secret"].startswith("whsec_")
        before = len(state.seen)
        submit(api, counter, SUPPLY.repeatable("oss"))
        wait_until(lambda: len(state.seen) > before, 10, what="a batch after rotation")
        body, headers = state.seen[-1]
        assert len(sent_signatures(headers, "v1")) == 2  # the overlap: new and old secret both sign
        assert Webhook(rotated["secret"]).verify(body, headers)
        assert Webhook(sub["secret"]).verify(body, headers)  # a receiver not yet switched still verifies
        assert receiving["receive_v1a"](body, headers, whpk)

        at_once = api.post(f"/v1/subscriptions/{sub['id']}/rotate-secret", headers=operator,
                           params={"keep_previous_s": 0}).json()
        before = len(state.seen)
        submit(api, counter, SUPPLY.repeatable("oss"))
        wait_until(lambda: len(state.seen) > before, 10, what="a batch after a rotation without overlap")
        body, headers = state.seen[-1]
        assert len(sent_signatures(headers, "v1")) == 1
        assert Webhook(at_once["secret"]).verify(body, headers)
        for old in (rotated["secret"], sub["secret"]):
            with pytest.raises(WebhookVerificationError):
                Webhook(old).verify(body, headers)
        too_long = api.post(f"/v1/subscriptions/{sub['id']}/rotate-secret", headers=operator,
                            params={"keep_previous_s": 8 * 86400})
        assert too_long.status_code in (400, 422)

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
    assert answer.status_code == 422 and answer.json()["code"] == "event_unknown"
    assert [e["pointer"] for e in answer.json()["errors"]] == ["#/events/0"]
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
