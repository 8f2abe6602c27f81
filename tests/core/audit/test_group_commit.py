"""Group commit: concurrent request-path audit entries share transactions, each caller returns only once its entry
is committed, and a failed commit reaches every caller of that batch."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from core.audit.group import audit_writer
from core.audit.log import prepare
from core.audit.models import pending_table


def pending_count(sessions) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return int(session.execute(select(func.count()).select_from(pending_table)).scalar_one())


def test_concurrent_entries_share_commits_and_are_durable_on_return(sessions) -> None:  # type: ignore[no-untyped-def]
    committer = audit_writer(sessions)

    async def one(i: int) -> int:
        await committer.submit(prepare("citizen.read", client="counter", detail={"n": i}))
        return pending_count(sessions)

    async def main() -> list[int]:
        return await asyncio.gather(*(one(i) for i in range(200)))

    seen = asyncio.run(main())
    assert pending_count(sessions) == 200
    assert all(n >= 1 for n in seen)  # nobody returned before a commit held its entry
    assert committer.batches < 200 / 4, f"{committer.batches} commits for 200 entries: not grouped"


def test_a_failed_commit_reaches_every_caller_of_its_batch(sessions) -> None:  # type: ignore[no-untyped-def]
    class Broken(Exception):
        pass

    def failing_sessions():  # type: ignore[no-untyped-def]
        session = sessions()
        session.commit = lambda: (_ for _ in ()).throw(Broken("disk full"))  # type: ignore[method-assign]
        return session

    committer = audit_writer(failing_sessions)

    async def main() -> list[object]:
        rows = [prepare("citizen.read", client="counter") for _ in range(10)]
        return await asyncio.gather(*(committer.submit(r) for r in rows), return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, Broken) for r in results)
    assert pending_count(sessions) == 0


def test_a_bad_entry_is_refused_before_it_can_spoil_a_batch() -> None:
    with pytest.raises(ValueError):
        prepare("Citizen Read!", client="counter")
    with pytest.raises(ValueError, match="keyed hash"):
        prepare("citizen.read", subject="3276014505850001")
