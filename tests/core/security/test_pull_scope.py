"""The pull fallback is the agency's own door: `callbacks:pull:<agency>` opens its subscriptions' events only."""

from __future__ import annotations

from tests.core.bus.helpers import FAST, SUPPLY, submit, wait_until

CALLBACKS = {"callback_allowed_hosts": ["127.0.0.1"], "callback_poll_s": 0.05}


def test_an_agency_pulls_its_own_events_and_no_one_elses(make_api, add_client) -> None:  # type: ignore[no-untyped-def]
    api = make_api(**FAST, **CALLBACKS)
    operator = {"Authorization": f"Bearer {add_client('operator', ['admin'])}"}
    counter = {"Authorization": f"Bearer {add_client('counter', ['application:submit:*', 'application:read'])}"}
    oss = {"Authorization": f"Bearer {add_client('oss-pull', ['callbacks:pull:oss'])}"}
    samsat = {"Authorization": f"Bearer {add_client('samsat-pull', ['callbacks:pull:samsat'])}"}
    sub = api.post("/v1/subscriptions", headers=operator, json={
        "agency": "oss", "url": "http://127.0.0.1:9/unreachable", "events": ["application.accepted"]}).json()
    app_id = submit(api, counter, SUPPLY.repeatable("oss"))["id"]

    def pulled() -> list[dict[str, object]]:
        answer = api.get(f"/v1/subscriptions/{sub['id']}/events", headers=oss)
        assert answer.status_code == 200, answer.text
        return answer.json()["events"]  # type: ignore[no-any-return]

    events = wait_until(pulled, 10, what="the accepted event, pulled by OSS")
    assert [e["data"]["application_id"] for e in events] == [app_id]

    refused = api.get(f"/v1/subscriptions/{sub['id']}/events", headers=samsat)
    assert refused.status_code == 403 and refused.json()["required_scope"] == "callbacks:pull:oss"
    assert api.get(f"/v1/subscriptions/{sub['id']}/events", headers=counter).status_code == 403
    # the pull scope opens nothing else: not the subscription itself, not its deliveries
    assert api.get(f"/v1/subscriptions/{sub['id']}", headers=oss).status_code == 403
    assert api.get(f"/v1/subscriptions/{sub['id']}/deliveries", headers=oss).status_code == 403
    missing = api.get("/v1/subscriptions/nope/events", headers=oss)
    assert missing.status_code == 404 and missing.json()["code"] == "subscription_not_found"
