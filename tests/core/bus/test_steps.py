"""The database steps of an attempt, one by one and in micro-batches (SQLite and PostgreSQL): a batch decides
each message on its own merits, and one bad message or one stale attempt never takes the others down."""

from __future__ import annotations

import asyncio
import threading
import datetime as dt
import os
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from sqlmodel import select

from core.bus.models import Application, Inbox, Outbox, Transition
from core.bus.service import accept
from core.bus.states import Policy
from core.bus.steps import BatchedSteps, Batcher
from core.bus.worker import (
    Message,
    Outcome,
    PoisonMessage,
    Skip,
    Work,
    begin,
    begin_many,
    finish,
    finish_many,
)
from core.security.clients import create_client
from core.security.secrets import load_secrets
from core.settings import Settings
from tests.conftest import BUS_SECRETS
from tests.core.bus.helpers import SUPPLY

POLICY = Policy(deadline_s=3600, schedule_s=(30, 300))


@pytest.fixture
def secrets(database_url: str, tmp_path: Any) -> Any:
    return load_secrets(Settings(database_url=database_url, data_dir=tmp_path, **BUS_SECRETS))


def accepted(sessions: Any, secrets: Any, count: int) -> list[Message]:
    """`count` accepted applications; their outbox messages."""
    with sessions() as session:
        client, _ = create_client(session, f"steps-{os.urandom(3).hex()}", ["application:read"], [])
        ids = [accept(session, secrets, POLICY, client_id=client.id, client_name=client.name,
                      idempotency_key=f"k{i}", **SUPPLY.repeatable("oss")).application.id for i in range(count)]
    with sessions() as session:
        rows = session.exec(select(Outbox).where(Outbox.application_id.in_(ids))).all()  # type: ignore[union-attr]
        by_app = {row.application_id: Message.of(row) for row in rows}
    return [by_app[i] for i in ids]


def test_a_batch_decides_each_message(sessions, secrets) -> None:  # type: ignore[no-untyped-def]
    first, second, broken = accepted(sessions, secrets, 3)
    with sessions() as session:
        row = session.get(Application, broken.application_id)
        row.payload = os.urandom(60)   # its ciphertext no longer opens
        session.commit()
    unknown = Message("m-unknown", "no-such-application", "oss")
    with sessions() as session:
        results = begin_many(session, [first, second, broken, unknown, first], secrets, POLICY)
    assert isinstance(results[0], Work) and isinstance(results[1], Work)
    assert isinstance(results[2], InvalidTag) and isinstance(results[3], PoisonMessage)
    assert results[4] == Skip("in flight")   # the same message again while its attempt is running
    with sessions() as session:
        apps = {a.id: a for a in session.exec(select(Application)).all()}
        assert apps[first.application_id].status == "submitting" and apps[first.application_id].attempts == 1
        assert apps[broken.application_id].status == "accepted"   # untouched: it will be retried, then failed
        steps = [t.status for t in session.exec(select(Transition).where(
            Transition.application_id == first.application_id).order_by(Transition.id)).all()]  # type: ignore
        assert steps == ["accepted", "queued", "submitting"]

    work = [results[0], results[1]]
    with sessions() as session:   # a sweep or replay changed the second one meanwhile: its word no longer counts
        session.get(Application, second.application_id).version += 1
        session.commit()
    outcome = Outcome("submitted", reference="REF-1", detail={"x": 1})
    with sessions() as session:
        done = finish_many(session, [(first, work[0], outcome), (second, work[1], outcome)], secrets, POLICY)
    assert done == ["submitted", "stale"]
    with sessions() as session:
        assert session.get(Application, first.application_id).agency_reference == "REF-1"
        assert session.get(Application, second.application_id).status == "submitting"
        assert {i.message_id for i in session.exec(select(Inbox)).all()} == {first.message_id, second.message_id}
    with sessions() as session:   # a redelivery of a finished message is a duplicate
        assert begin(session, first, secrets, POLICY) == Skip("duplicate")


def test_outcomes(sessions, secrets) -> None:  # type: ignore[no-untyped-def]
    messages = accepted(sessions, secrets, 3)
    with sessions() as session:
        works = [begin(session, m, secrets, POLICY) for m in messages]
    now = dt.datetime.now(dt.timezone.utc)
    outcomes = [Outcome("rejected", reason="NIB bukan milik pemohon", code="400"),
                Outcome("retry", reason="agency answered HTTP 503", retry_after_s=120),
                Outcome("retry", reason="timeout")]
    with sessions() as session:
        late = session.get(Application, messages[2].application_id)
        late.deadline_at = now - dt.timedelta(seconds=1)
        session.commit()
    works[2] = Work(**{**works[2].__dict__, "deadline_at": now - dt.timedelta(seconds=1)})
    with sessions() as session:
        done = [finish(session, m, w, o, secrets, POLICY, now) for m, w, o in zip(messages, works, outcomes)]
    assert done == ["rejected", "queued", "failed"]
    with sessions() as session:
        rejected, waiting, failed = (session.get(Application, m.application_id) for m in messages)
        assert rejected.reason == "NIB bukan milik pemohon" and rejected.reason_code == "400"
        due = waiting.next_attempt_at.replace(tzinfo=dt.timezone.utc)
        assert abs((due - now).total_seconds() - 120) < 1   # the agency's Retry-After beat the 30 s schedule
        assert failed.status == "failed" and failed.lease_until is None


def test_batcher_groups_and_isolates() -> None:
    calls: list[list[int]] = []

    def run(items: list[int]) -> list[Any]:
        calls.append(items)
        return [ValueError(i) if i == 3 else i * 10 for i in items]

    async def main() -> list[Any]:
        batcher = Batcher(run, max_size=4, linger_s=0.01)
        return await asyncio.gather(*(batcher.submit(i) for i in range(6)), return_exceptions=True)

    results = asyncio.run(main())
    assert calls == [[0, 1, 2, 3], [4, 5]]
    assert results[:3] == [0, 10, 20] and isinstance(results[3], ValueError) and results[4:] == [40, 50]


def held_at_first(calls: list[list[int]], release: threading.Event) -> Callable[[list[int]], list[Any]]:
    """A batch runner that records each batch, and holds the batch [0] until `release` is set."""

    def run(items: list[int]) -> list[Any]:
        calls.append(items)
        if items == [0]:
            assert release.wait(5)
        return [i * 10 for i in items]

    return run


def test_batcher_bounds_batches_in_flight() -> None:
    """While `max_inflight` batches run, what arrives waits, then goes as one batch (not one per linger)."""
    calls: list[list[int]] = []
    release = threading.Event()
    run = held_at_first(calls, release)

    async def main() -> list[Any]:
        batcher = Batcher(run, max_size=10, linger_s=0.001, max_inflight=1)
        first = asyncio.ensure_future(batcher.submit(0))
        await asyncio.sleep(0.05)  # the batch [0] is running
        rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 5)]
        await asyncio.sleep(0.05)  # well past their linger: still waiting for the running batch
        assert calls == [[0]]
        release.set()
        return list(await asyncio.gather(first, *rest))

    assert asyncio.run(main()) == [0, 10, 20, 30, 40]
    assert calls == [[0], [1, 2, 3, 4]]


def test_batcher_lingers_after_a_batch_ends() -> None:
    """What arrived while a batch ran waits out its own linger when that batch ends, gathering later arrivals,
    rather than starting a batch of one at once (which kept batches tiny under load)."""
    calls: list[list[int]] = []
    release = threading.Event()
    run = held_at_first(calls, release)

    async def main() -> list[Any]:
        batcher = Batcher(run, max_size=10, linger_s=0.3, max_inflight=1)
        first = asyncio.ensure_future(batcher.submit(0))
        await asyncio.sleep(0.4)  # the batch [0] started after its linger and is running
        assert calls == [[0]]
        second = asyncio.ensure_future(batcher.submit(1))
        await asyncio.sleep(0)
        release.set()  # [0] ends while 1 has waited ~0 of its 0.3 s
        await asyncio.sleep(0.1)
        assert calls == [[0]]  # 1 still lingers
        third = asyncio.ensure_future(batcher.submit(2))
        return list(await asyncio.gather(first, second, third))

    assert asyncio.run(main()) == [0, 10, 20]
    assert calls == [[0], [1, 2]]


def test_batched_steps_end_to_end(sessions, secrets) -> None:  # type: ignore[no-untyped-def]
    messages = accepted(sessions, secrets, 5)
    steps = BatchedSteps(sessions, secrets, POLICY, linger_s=0.02)

    async def main() -> list[str]:
        async def one(message: Message) -> str:
            work = await steps.begin(message)
            assert isinstance(work, Work)
            return await steps.finish(message, work, Outcome("submitted", reference=f"R-{work.application_id}"))

        return list(await asyncio.gather(*(one(m) for m in messages)))

    assert asyncio.run(main()) == ["submitted"] * 5
    assert steps._begins.batches == 1 and steps._finishes.batches == 1   # five attempts, two transactions
