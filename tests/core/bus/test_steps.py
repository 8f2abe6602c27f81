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

from core.bus.agency_call import Outcome
from core.bus.claim import Skip, Work, begin, begin_many
from core.bus.finish import finish, finish_many
from core.bus.message import Message, PoisonMessage
from core.bus.models import Application, Inbox, Outbox, Transition
from core.bus.service import accept
from core.bus.states import Policy
from core.bus.steps import BatchedSteps
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
