"""The operator console over plain HTTP (TestClient): login, scopes, CSRF, logout, re-checked keys, and what the
page shows — agencies with breaker state, a dead application and its replay, the latest signed checkpoint."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import select

from core.audit.sequencer import sequence
from core.audit.models import entry_table
from core.console import session as console_session
from core.security.clients import revoke_keys, set_disabled, update_client
from core.security.keys import key_id
from tests.core.bus.helpers import FAST, SUPPLY, submit, wait_status
from tests.core.conftest import POPULATION
from core.api.state import app_state

FORM = {"content-type": "application/x-www-form-urlencoded"}
SUPPLY_NIKS = {p.nik for p in POPULATION.people}


def audit_of(api: Any, action: str) -> list[tuple[str, str]]:
    """(client, entry text) of every audit entry with this action, after sequencing everything written so far
    (reading pending and sequenced rows apart could count an entry the sequencer moves in between twice)."""
    state = app_state(api.app)
    sequence(state.engine, state.audit.signer)
    with state.sessions() as session:
        done = session.execute(select(entry_table.c.client, entry_table.c.data)
                               .where(entry_table.c.action == action)).all()
    return [(c, bytes(d).decode()) for c, d in done]


def login(api: Any, key: str) -> Any:
    return api.post("/console/login", data={"key": key}, follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
def operator_key(add_client) -> str:  # type: ignore[no-untyped-def]
    return add_client("operator", ["admin"])  # type: ignore[no-any-return]


def test_login_is_required_and_a_wrong_key_is_refused(make_api, operator_key) -> None:  # type: ignore
    api = make_api()
    page = api.get("/console")
    assert page.status_code == 200 and 'name="key"' in page.text and 'id="agencies"' not in page.text
    assert page.headers["cache-control"] == "no-store" and "default-src 'none'" in page.headers[
        "content-security-policy"]
    wrong = login(api, "gbk_" + "x" * 40)
    assert wrong.status_code == 401 and "not valid" in wrong.text and "set-cookie" not in wrong.headers
    assert login(api, "").status_code == 400
    assert api.get("/console").status_code == 200 and 'id="agencies"' not in api.get("/console").text
    # a replay without a session: the login page, 401
    refused = api.post("/console/applications/whatever/replay", data={"csrf": "x"})
    assert refused.status_code == 401 and 'name="key"' in refused.text


def test_a_forged_or_garbled_cookie_is_no_session(make_api, operator_key) -> None:  # type: ignore
    api = make_api()
    for value in ["nonsense", "a.b", "x" * 2000, console_session.issue(b"another key" * 3, "0" * 64)]:
        api.cookies.set(console_session.COOKIE, value, path="/console")
        page = api.get("/console")
        assert page.status_code == 200 and 'name="key"' in page.text and "session has ended" in page.text
        api.cookies.clear()


def test_a_key_without_admin_gets_a_403_page(make_api, add_client) -> None:  # type: ignore
    api = make_api()
    counter = add_client("counter", ["application:submit:*", "application:read"])
    answer = login(api, counter)
    assert answer.status_code == 403 and "admin scope" in answer.text
    assert "set-cookie" not in answer.headers
    assert 'id="agencies"' not in api.get("/console").text


def test_bad_forms_are_4xx_pages(make_api, operator_key) -> None:  # type: ignore
    api = make_api()
    assert api.post("/console/login", content=b'{"key": "x"}',
                    headers={"content-type": "application/json"}).status_code == 415
    assert api.post("/console/login", content=b"key=%ff%fe", headers=FORM).status_code == 400
    assert api.post("/console/login", content=b"&".join(b"a%d=1" % i for i in range(50)),
                    headers=FORM).status_code == 400
    assert api.post("/console/login", content=b"key=" + b"k" * 5000, headers=FORM).status_code == 413
    assert api.get("/console/login", follow_redirects=False).status_code == 303


def test_session_cookie_csrf_and_logout(make_api, operator_key, sessions) -> None:  # type: ignore
    api = make_api()
    answer = login(api, operator_key)
    assert answer.status_code == 303 and answer.headers["location"] == "/console"
    cookie = answer.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower() and "path=/console" in cookie.lower()
    assert operator_key not in cookie
    page = api.get("/console")
    assert page.status_code == 200 and "signed in as <b>operator</b>" in page.text
    token = csrf_of(page.text)
    # state-changing forms need the session's CSRF token
    assert api.post("/console/applications/nope/replay", data={}).status_code == 403
    assert api.post("/console/applications/nope/replay", data={"csrf": token[:-2] + "xx"}).status_code == 403
    assert api.post("/console/logout", data={}).status_code == 403
    # with it: an unknown application is a 404 page, not an error
    unknown = api.post("/console/applications/nope/replay", data={"csrf": token})
    assert unknown.status_code == 404 and "no application nope" in unknown.text
    assert api.post("/console/applications/" + "x" * 80 + "/replay", data={"csrf": token}).status_code == 404
    # the login was audited, with the key's public id only
    logins = audit_of(api, "admin.console_login")
    assert [client for client, _ in logins] == ["operator"]
    assert key_id(operator_key) in logins[0][1] and operator_key[4:16] not in logins[0][1]
    out = api.post("/console/logout", data={"csrf": token}, follow_redirects=False)
    assert out.status_code == 303 and console_session.COOKIE in out.headers["set-cookie"]
    assert 'name="key"' in api.get("/console").text


@pytest.mark.parametrize("how", ["revoked", "disabled", "demoted"])
def test_a_revoked_key_disabled_client_or_lost_scope_ends_the_session(make_api, operator_key, sessions,
                                                                      how) -> None:  # type: ignore
    api = make_api()
    assert login(api, operator_key).status_code == 303
    assert 'id="agencies"' in api.get("/console").text
    with sessions() as session:
        if how == "revoked":
            revoke_keys(session, "operator")
        elif how == "disabled":
            set_disabled(session, "operator")
        else:
            update_client(session, "operator", scopes=["audit:read"])
    app_state(api.app).principals.clear()  # what the admin API does after a change (else: within the cache's 2 s)
    page = api.get("/console")
    assert 'id="agencies"' not in page.text
    if how == "demoted":
        assert page.status_code == 403 and "admin scope" in page.text
    else:
        assert page.status_code == 200 and "session has ended" in page.text
    assert 'name="key"' in api.get("/console").text  # the cookie is gone either way


def test_the_page_shows_agencies_breakers_dead_letters_and_replays(make_api, operator_key, add_client, sessions,
                                                                   set_fault) -> None:  # type: ignore
    api = make_api(**{**FAST, "submit_deadline_s": 1.0, "breaker_threshold": 1, "breaker_reset_s": 60})
    counter = {"Authorization": f"Bearer {add_client('counter', ['application:submit:*', 'application:read'])}"}
    set_fault("oss", "down")
    request = SUPPLY.repeatable("oss")
    dead = submit(api, counter, request)
    assert wait_status(api, counter, dead["id"])["status"] == "failed"
    ok = submit(api, counter, SUPPLY.fresh("samsat"))
    assert wait_status(api, counter, ok["id"])["status"] == "submitted"
    assert login(api, operator_key).status_code == 303
    page = api.get("/console").text
    for agency in app_state(api.app).agencies.active:
        assert f'data-agency="{agency}"' in page
    oss_row = re.search(r'<tr data-agency="oss">(.*?)</tr>', page, re.S).group(1)  # type: ignore[union-attr]
    assert ">open<" in oss_row and ">down<" in oss_row
    samsat_row = re.search(r'<tr data-agency="samsat">(.*?)</tr>', page, re.S).group(1)  # type: ignore[union-attr]
    assert ">closed<" in samsat_row and ">up<" in samsat_row
    dead_section = page.split('id="dead"')[1].split("</section>")[0]
    assert dead["id"] in dead_section and f'id="replay-{dead["id"]}"' in dead_section
    assert ok["id"] not in dead_section
    assert re.search(r'id="dead-count">1<', page)
    recent = page.split('id="recent"')[1].split("</section>")[0]
    assert ok["id"] in recent and dead["id"] in recent and ">submitted<" in recent
    # nothing about the citizen: no NIK, no name
    person = next(p for p in POPULATION.people if p.nik == request["nik"])
    assert request["nik"] not in page and person.name not in page and SUPPLY_NIKS.isdisjoint(re.findall(r"\d{16}", page))

    set_fault("oss", "ok")
    app_state(api.app).agencies.breakers["oss"].success()  # as a probe after breaker_reset_s would
    replayed = api.post(f"/console/applications/{dead['id']}/replay", data={"csrf": csrf_of(page)},
                        follow_redirects=False)
    assert replayed.status_code == 303, replayed.text
    after = api.get(replayed.headers["location"]).text
    assert f"Application {dead['id']} was sent again." in after
    view = api.get(f"/v1/applications/{dead['id']}", headers=counter).json()
    assert view["status"] != "failed"
    assert "replayed by operator" in [s for s in view["history"] if s["status"] == "accepted"][-1]["detail"]
    replays = audit_of(api, "application.replayed")
    assert len(replays) == 1 and dead["id"] in replays[0][1] and "operator" in replays[0][1]
    again = api.post(f"/console/applications/{dead['id']}/replay", data={"csrf": csrf_of(page)})
    assert again.status_code == 409 and "only failed applications" in again.text


def test_the_page_shows_the_latest_checkpoint(make_api, operator_key, add_client) -> None:  # type: ignore
    api = make_api()
    assert login(api, operator_key).status_code == 303
    auditor = add_client("auditor", ["audit:read"])
    note = api.get("/v1/audit/checkpoint", headers={"Authorization": f"Bearer {auditor}"})
    assert note.status_code == 200
    page = api.get("/console").text
    size = re.search(r'id="checkpoint-size">(\d+)<', page)
    assert size and int(size.group(1)) >= 1
    assert note.text.splitlines()[0] in page and note.text.splitlines()[1] in page  # origin and size lines


def test_logging_out_ends_the_session_for_a_copied_cookie_too(make_api, operator_key, sessions) -> None:  # type: ignore
    """A copy of the cookie (another tab, a stolen one) is refused once its session logged out — by every API
    process, since the end is in the database — and the logout is audited."""
    api, other = make_api(), make_api()
    assert login(api, operator_key).status_code == 303
    cookie = api.cookies.get(console_session.COOKIE)
    other.cookies.set(console_session.COOKIE, cookie, path="/console")
    assert 'id="agencies"' in other.get("/console").text  # the copy works while the session lives
    token = csrf_of(api.get("/console").text)
    assert api.post("/console/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    third = make_api()  # a third process, the same copy
    third.cookies.set(console_session.COOKIE, cookie, path="/console")
    page = third.get("/console")
    assert 'id="agencies"' not in page.text and "session has ended" in page.text
    assert 'id="agencies"' not in other.get("/console").text
    assert [client for client, _ in audit_of(api, "admin.console_logout")] == ["operator"]
    # a new login is a new session
    assert login(api, operator_key).status_code == 303 and 'id="agencies"' in api.get("/console").text


def test_ended_sessions_are_kept_only_until_they_would_expire(sessions) -> None:  # type: ignore
    from sqlalchemy import func, select as sql_select

    from core.console.models import logout_table

    old = console_session.ConsoleSession("0" * 64, "old-nonce", expires=1_000)
    live = console_session.ConsoleSession("0" * 64, "live-nonce", expires=10_000)
    console_session.end(sessions, old, now=500)
    console_session.end(sessions, live, now=600)
    console_session.end(sessions, live, now=600)  # twice (two tabs): no error
    assert console_session.ended(sessions, old) and console_session.ended(sessions, live)
    console_session.end(sessions, console_session.ConsoleSession("0" * 64, "later", expires=20_000), now=5_000)
    assert not console_session.ended(sessions, old) and console_session.ended(sessions, live)
    with sessions() as db:
        assert db.execute(sql_select(func.count()).select_from(logout_table)).scalar() == 2


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Origin": "null"},
                                     {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                                     {"Origin": "http://testserver", "Sec-Fetch-Site": "cross-site"}])
def test_a_login_posted_from_another_site_is_refused(make_api, operator_key, headers) -> None:  # type: ignore
    """Login CSRF: another site's page must not sign the operator's browser in (as anyone)."""
    api = make_api()
    reply = api.post("/console/login", data={"key": operator_key}, headers=headers, follow_redirects=False)
    assert reply.status_code == 403 and console_session.COOKIE not in reply.headers.get("set-cookie", "")
    assert audit_of(api, "admin.console_login") == []


@pytest.mark.parametrize("headers", [{"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
                                     {"Origin": "null", "Sec-Fetch-Site": "same-origin"},  # no-referrer policy
                                     {"Origin": "http://testserver"}, {}])
def test_a_login_from_the_console_page_itself_passes(make_api, operator_key, headers) -> None:  # type: ignore
    api = make_api()
    reply = api.post("/console/login", data={"key": operator_key}, follow_redirects=False, headers=headers)
    assert reply.status_code == 303
