"""Delivery to a real receiver on loopback: down then up, batching by count and by window, 410, dead and replay,
allow-list refusal, redirects not followed. Events are written with `emit()` (as `move()` does)."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from sqlmodel import select

from core.callbacks import service
from core.callbacks.events import emit
from core.callbacks.models import Batch, Subscription
from core.callbacks.secrets import callback_key
from core.security.secrets import load_secrets
from core.settings import Settings
from identity.clock import utcnow
from tests.core.bus.helpers import wait_until
from tests.core.callbacks.helpers import (
    FAST,
    deliverer,
    emit_events,
    free_port,
    receiver,
)

WAIT_S = 30.0
"""How long a test waits for what the deliverer should do: generous, since a loaded machine (CI) is slow, and
free when things go right (the waits poll)."""


def secret_key() -> bytes:
    """What the helpers' Deliverer (Settings(): this test's own data directory) derives subscription secrets with."""
    return callback_key(load_secrets(Settings()).nik_hash_key)


def subscribe(sessions: Any, url: str, batch_max: int = 10, window_s: float = 0.1,
              events: tuple[str, ...] = ("application.submitted",)) -> tuple[str, str]:
    with sessions() as session:
        sub, secret = service.create(session, agency="oss", url=url, events=list(events), batch_max=batch_max,
                                     batch_window_s=window_s, actor="test", key=secret_key())
    return sub.id, secret


def delivered_events(seen: list[tuple[bytes, dict[str, str]]]) -> list[int]:
    """Event numbers (data.n) of every distinct batch, in arrival order (a resent batch counted once)."""
    out, batches = [], set()
    for body, _ in seen:
        doc = json.loads(body)
        if doc["batch_id"] in batches:
            continue
        batches.add(doc["batch_id"])
        out.extend(e["data"]["n"] for e in doc["events"])
    return out


def test_receiver_down_then_up_every_event_once_in_order(sessions) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    sub_id, _ = subscribe(sessions, f"http://127.0.0.1:{port}/hook", batch_max=7)
    emit_events(sessions, 30)
    with deliverer(sessions):
        # nothing listens: connection refused, retried with backoff
        wait_until(lambda: (found := _batches(sessions, sub_id)) and found[0].attempts >= 2, WAIT_S,
                   what="the first batch retried")
        batches = _batches(sessions, sub_id)
        assert batches[0].attempts >= 2 and all(b.attempts == 0 for b in batches[1:])  # one at a time, in order
        assert all(b.status == "pending" for b in batches)
        emit_events(sessions, 20)  # more arrive while the receiver is down
        with receiver(port) as (state, _):
            wait_until(lambda: len(delivered_events(state.seen)) >= 50, WAIT_S, what="all events delivered")
            time.sleep(0.3)
    numbers = delivered_events(state.seen)
    assert numbers == list(range(30)) + list(range(20))  # in order, none twice
    ids = [e["id"] for body, _ in state.seen for e in json.loads(body)["events"]]
    assert len(ids) == len(set(ids)) == 50  # and no event in two batches (nor any batch resent after a 2xx)
    assert all(len(json.loads(body)["events"]) <= 7 for body, _ in state.seen)
    with sessions() as session:
        views = service.deliveries(session, sub_id)
    assert all(v["status"] == "delivered" for v in views)
    first = min(views, key=lambda v: v["seq"])
    assert first["attempts"][0]["outcome"] == "retry" and first["attempts"][-1]["outcome"] == "delivered"
    assert len(first["attempts"]) >= 3


def test_batching_by_count_and_by_window(sessions) -> None:  # type: ignore[no-untyped-def]
    """Full batches go at once; the 2 left wait the window, counted from before they were written (so a slow
    machine can only make them later, never make the test see them early)."""
    window_s = 2.0
    with receiver() as (state, server):
        subscribe(sessions, f"{server.url}/hook", batch_max=5, window_s=window_s)
        with deliverer(sessions):
            emitted = time.monotonic()
            emit_events(sessions, 12)
            wait_until(lambda: len(state.seen) >= 2, WAIT_S, what="two full batches")
            full_after = time.monotonic() - emitted
            assert [len(json.loads(b)["events"]) for b, _ in state.seen[:2]] == [5, 5]
            wait_until(lambda: len(state.seen) >= 3, WAIT_S, what="the window's batch")
            rest_after = time.monotonic() - emitted
    assert [len(json.loads(b)["events"]) for b, _ in state.seen] == [5, 5, 2]
    assert full_after < window_s <= rest_after, (full_after, rest_after)


def test_410_disables_and_replay_resends_same_batch(sessions) -> None:  # type: ignore[no-untyped-def]
    with receiver() as (state, server):
        state.mode = "410"
        sub_id, _ = subscribe(sessions, f"{server.url}/hook", batch_max=3, window_s=0)
        emit_events(sessions, 3)
        with deliverer(sessions) as running:
            wait_until(lambda: _sub_status(sessions, sub_id) == "disabled", WAIT_S, what="the subscription disabled")
            time.sleep(0.3)  # a moment for a retry that must not come
            assert len(state.seen) == 1  # not retried: gone
            with sessions() as session:
                sub = session.get(Subscription, sub_id)
                assert sub is not None and sub.status == "disabled" and "410" in (sub.status_reason or "")
                first_event = json.loads(state.seen[0][0])["events"][0]["id"]
            emit_events(sessions, 2)
            state.mode = "ok"
            with sessions() as session:
                assert service.replay(session, sub_id, first_event, "test") == 1
            running.wake()
            wait_until(lambda: len(delivered_events(state.seen[1:])) == 5, WAIT_S, what="replayed + new")
    batch_ids = [json.loads(b)["batch_id"] for b, _ in state.seen]
    assert batch_ids[0] == batch_ids[1]  # the replayed batch keeps its id
    assert delivered_events(state.seen[1:]) == [0, 1, 2, 0, 1]


def test_dead_after_max_age_then_replay(sessions) -> None:  # type: ignore[no-untyped-def]
    with receiver() as (state, server):
        state.mode = "503"
        sub_id, _ = subscribe(sessions, f"{server.url}/hook", batch_max=2, window_s=0)
        emit_events(sessions, 2)
        with deliverer(sessions, dataclasses.replace(FAST, max_age_s=0.4)):
            wait_until(lambda: _statuses(sessions, sub_id) == ["dead"], WAIT_S, what="a dead batch")
            attempts = len(state.seen)
            assert attempts >= 2
            state.mode = "ok"
            time.sleep(0.3)
            assert len(state.seen) == attempts  # dead: not retried any more
            first_event = json.loads(state.seen[0][0])["events"][0]["id"]
            with sessions() as session:
                service.replay(session, sub_id, first_event, "test")
            wait_until(lambda: _statuses(sessions, sub_id) == ["delivered"], WAIT_S, what="replayed")
    assert len({json.loads(b)["batch_id"] for b, _ in state.seen}) == 1


def _batches(sessions: Any, sub_id: str) -> list[Batch]:
    with sessions() as session:
        return list(session.exec(select(Batch).where(Batch.subscription_id == sub_id).order_by(Batch.seq)).all())


def _statuses(sessions: Any, sub_id: str) -> list[str]:
    with sessions() as session:
        return [b.status for b in session.exec(select(Batch).where(Batch.subscription_id == sub_id))]


def test_host_off_the_allow_list_is_never_called(sessions) -> None:  # type: ignore[no-untyped-def]
    with receiver() as (state, server):
        sub_id, _ = subscribe(sessions, f"http://localhost:{server.port}/hook", batch_max=1, window_s=0)
        emit_events(sessions, 1)
        with deliverer(sessions):  # allow-list: 127.0.0.1 only
            wait_until(lambda: _sub_status(sessions, sub_id) == "disabled", WAIT_S, what="refusal")
        assert state.seen == []
        with sessions() as session:
            views = service.deliveries(session, sub_id)
        assert views[0]["attempts"][0]["outcome"] == "refused"


def test_redirects_are_not_followed(sessions) -> None:  # type: ignore[no-untyped-def]
    with receiver() as (state, server):
        state.mode = "redirect"
        sub_id, _ = subscribe(sessions, f"{server.url}/hook", batch_max=1, window_s=0)
        emit_events(sessions, 1)
        with deliverer(sessions):
            wait_until(lambda: len(state.seen) >= 2, WAIT_S, what="retries")
        with sessions() as session:
            attempt = service.deliveries(session, sub_id)[0]["attempts"][0]
        assert attempt["status_code"] == 307 and attempt["outcome"] == "retry"


def _sub_status(sessions: Any, sub_id: str) -> str:
    with sessions() as session:
        sub = session.get(Subscription, sub_id)
        return sub.status if sub else ""


def test_two_deliverers_share_without_repeats_or_reordering(sessions) -> None:  # type: ignore[no-untyped-def]
    """Two deliverers on one database (as two API processes): the subscription lease keeps one sender at a time."""
    with receiver() as (state, server):
        subscribe(sessions, f"{server.url}/hook", batch_max=5, window_s=0.05)
        with deliverer(sessions), deliverer(sessions):
            for _ in range(6):
                emit_events(sessions, 10)
                time.sleep(0.05)
            wait_until(lambda: len(delivered_events(state.seen)) >= 60, WAIT_S, what="every event")
            time.sleep(0.3)
    ids = [e["id"] for body, _ in state.seen for e in json.loads(body)["events"]]
    assert len(ids) == len(set(ids)) == 60
    assert delivered_events(state.seen) == [n for _ in range(6) for n in range(10)]


def test_batches_are_cut_from_events_interleaved_with_others(sessions) -> None:  # type: ignore[no-untyped-def]
    """A subscription's items are a sparse run of event ids (other agencies' and other types' events between):
    each batch is cut as a range of its open items, and holds exactly the next five, in order."""
    with sessions() as session:
        for n in range(60):
            agency = "oss" if n % 3 else "samsat"
            event_type = "application.submitted" if n % 2 else "application.accepted"
            emit(session, event_type, agency=agency, application_id=f"app-{n}", at=utcnow(), data={"n": n})
        session.commit()
    wanted = [n for n in range(60) if n % 3 and n % 2]
    with receiver() as (state, server):
        subscribe(sessions, f"{server.url}/hook", batch_max=5, window_s=0.05)
        with deliverer(sessions):
            wait_until(lambda: len(delivered_events(state.seen)) >= len(wanted), WAIT_S, what="every oss event")
            time.sleep(0.3)
    assert delivered_events(state.seen) == wanted
    assert [len(json.loads(body)["events"]) for body, _ in state.seen] == [5, 5, 5, 5]
