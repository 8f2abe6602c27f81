"""The one group-commit batcher: items gathered into batches, each caller its own result or exception, bounded
batches in flight, the oldest item's linger; and the whole-batch-then-one-by-one fallback."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from core.db.group_commit import GroupCommit, batch_or_each


def test_batcher_groups_and_isolates() -> None:
    calls: list[list[int]] = []

    def run(items: list[int]) -> list[Any]:
        calls.append(items)
        return [ValueError(i) if i == 3 else i * 10 for i in items]

    async def main() -> list[Any]:
        batcher = GroupCommit(run, max_size=4, linger_s=0.01, max_inflight=2)
        return await asyncio.gather(*(batcher.submit(i) for i in range(6)), return_exceptions=True)

    results = asyncio.run(main())
    assert calls == [[0, 1, 2, 3], [4, 5]]
    assert results[:3] == [0, 10, 20] and isinstance(results[3], ValueError) and results[4:] == [40, 50]


def held_at_first(linger_s: float) -> tuple[list[list[int]], threading.Event, GroupCommit[int, int]]:
    """A batcher of one batch at a time whose runner records each batch and holds the batch [0] until the event is
    set."""
    calls: list[list[int]] = []
    release = threading.Event()

    def run(items: list[int]) -> list[Any]:
        calls.append(items)
        if items == [0]:
            assert release.wait(5)
        return [i * 10 for i in items]

    return calls, release, GroupCommit(run, max_size=10, linger_s=linger_s, max_inflight=1)


def test_batcher_bounds_batches_in_flight() -> None:
    """While `max_inflight` batches run, what arrives waits, then goes as one batch (not one per linger)."""
    calls, release, batcher = held_at_first(linger_s=0.001)

    async def main() -> list[Any]:
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
    calls, release, batcher = held_at_first(linger_s=0.3)

    async def main() -> list[Any]:
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


def test_without_linger_the_callers_already_running_share_the_first_batch() -> None:
    """No linger (the API): the first caller does not commit alone; the callers of the same loop turn join it."""
    calls: list[list[int]] = []

    def run(items: list[int]) -> list[Any]:
        calls.append(items)
        return items

    async def main() -> list[Any]:
        committer = GroupCommit(run, max_size=100)
        return list(await asyncio.gather(*(committer.submit(i) for i in range(5))))

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]
    assert calls == [[0, 1, 2, 3, 4]]


def test_a_failed_run_reaches_every_caller_and_a_new_loop_starts_afresh() -> None:
    def run(items: list[int]) -> list[Any]:
        if 0 in items:
            raise OSError("database down")
        return items

    committer = GroupCommit(run, max_size=100)

    async def main(values: range) -> list[Any]:
        return list(await asyncio.gather(*(committer.submit(i) for i in values), return_exceptions=True))

    assert all(isinstance(r, OSError) for r in asyncio.run(main(range(3))))
    assert asyncio.run(main(range(1, 3))) == [1, 2]


class FakeSession:
    """Counts what the fallback asks of the session."""

    def __init__(self) -> None:
        self.rollbacks = self.expunges = 0

    def rollback(self) -> None:
        self.rollbacks += 1

    def expunge_all(self) -> None:
        self.expunges += 1


def test_batch_or_each_takes_the_whole_batch_when_it_commits() -> None:
    session: Any = FakeSession()
    assert batch_or_each(session, [1, 2], lambda items: [i * 10 for i in items], lambda i: -i) == [10, 20]
    assert session.rollbacks == 0


def test_batch_or_each_falls_back_to_one_by_one() -> None:
    """A batch that raises, or returns None (a lost race), is rolled back and each item tried on its own; a failed
    item is rolled back and answers its exception, the others their results."""

    def each(i: int) -> int:
        if i == 2:
            raise ValueError(i)
        return i * 10

    def raising(items: Any) -> list[int]:
        raise ValueError("batch")

    batches: list[Callable[[Any], list[int] | None]] = [raising, lambda items: None]
    for batch in batches:
        session: Any = FakeSession()
        one, two, three = batch_or_each(session, [1, 2, 3], batch, each)
        assert (one, three) == (10, 30) and isinstance(two, ValueError)
        assert session.rollbacks == 2 and session.expunges == 3
