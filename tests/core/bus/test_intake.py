"""Group commit of accepts (SQLite and PostgreSQL): concurrent submissions share one transaction, and each still
gets its own answer — a repeated key answers its first application, another body under a used key is a
conflict, and neither fails the other requests of the batch."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from sqlmodel import select

from core.audit.models import pending_table
from core.bus.intake import intake as group_intake
from core.bus.models import Application, Outbox, Transition
from core.bus.service import IdempotencyConflict, Submission, accept
from core.bus.states import Policy
from core.callbacks.models import Event
from core.security.clients import create_client
from core.security.secrets import load_secrets
from core.settings import Settings
from tests.conftest import BUS_SECRETS
from tests.core.bus.helpers import SUPPLY

POLICY = Policy(deadline_s=3600)


@pytest.fixture
def secrets(database_url: str, tmp_path: Any) -> Any:
    return load_secrets(Settings(database_url=database_url, data_dir=tmp_path, **BUS_SECRETS))


def _client(sessions: Any) -> Any:
    with sessions() as session:
        client, _ = create_client(session, f"intake-{os.urandom(3).hex()}", ["application:read"], [])
    return client


def _submission(client: Any, key: str, request: dict[str, Any]) -> Submission:
    return Submission(client_id=client.id, client_name=client.name, idempotency_key=key, nik=request["nik"],
                      agency=request["agency"], service=request["service"], payload=request["payload"],
                      audit={"counter": {"counter": "loket-01"}})


def _rows(sessions: Any, app_id: str) -> tuple[int, list[str], int]:
    with sessions() as session:
        outbox = len(session.exec(select(Outbox).where(Outbox.application_id == app_id)).all())
        history = [t.status for t in session.exec(select(Transition).where(Transition.application_id == app_id))]
        events = len(session.exec(select(Event).where(Event.application_id == app_id)).all())
    return outbox, history, events


def test_a_clean_batch_is_one_commit(sessions, secrets) -> None:  # type: ignore[no-untyped-def]
    client = _client(sessions)
    intake = group_intake(sessions, secrets, POLICY)
    requests = [SUPPLY.repeatable("oss") for _ in range(5)]

    async def run() -> list[Any]:
        return await asyncio.gather(*(intake.submit(_submission(client, f"k{i}", r))
                                      for i, r in enumerate(requests)))

    results = asyncio.run(run())
    assert intake.batches == 1
    assert all(r.created for r in results) and len({r.application.id for r in results}) == 5
    for result in results:
        assert result.application.status == "accepted"
        assert _rows(sessions, result.application.id) == (1, ["accepted"], 1)
    with sessions() as session:
        apps = session.exec(select(Application).where(Application.client_id == client.id)).all()
        assert sorted(a.idempotency_key for a in apps) == [f"k{i}" for i in range(5)]
        details = [row.detail for row in session.execute(select(pending_table.c.detail)).all()]
    assert sum(1 for d in details if d and results[0].application.id in d and "loket-01" in d) == 1


def test_a_batch_with_repeated_keys_answers_each_request(sessions, secrets) -> None:  # type: ignore[no-untyped-def]
    client = _client(sessions)
    used = SUPPLY.repeatable("oss")
    with sessions() as session:
        first = accept(session, secrets, POLICY, client_id=client.id, client_name=client.name,
                       idempotency_key="used", **used).application.id
    fresh, twice, other = SUPPLY.repeatable("oss"), SUPPLY.repeatable("oss"), SUPPLY.repeatable("oss")
    intake = group_intake(sessions, secrets, POLICY)

    async def run() -> list[Any]:
        return await asyncio.gather(*(intake.submit(s) for s in (
            _submission(client, "fresh", fresh), _submission(client, "used", used),
            _submission(client, "used", other), _submission(client, "twice", twice),
            _submission(client, "twice", twice))), return_exceptions=True)

    new, repeat, conflict, once, again = asyncio.run(run())
    assert new.created and _rows(sessions, new.application.id) == (1, ["accepted"], 1)
    assert not repeat.created and repeat.application.id == first
    assert isinstance(conflict, IdempotencyConflict) and conflict.application_id == first
    assert once.created and not again.created and once.application.id == again.application.id
    assert _rows(sessions, once.application.id) == (1, ["accepted"], 1)
    assert _rows(sessions, first) == (1, ["accepted"], 1)   # the repeats wrote nothing
