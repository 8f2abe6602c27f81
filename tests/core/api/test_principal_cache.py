"""The per-process principal cache (core/api/auth.py): one database lookup per key however many requests wait."""

from __future__ import annotations

import asyncio

import pytest

from core.api.auth import PrincipalCache
from core.security.clients import Principal

ALICE = Principal(client_id=1, name="alice", scopes=("citizen:read:*",), purposes=("identity_check",))


def test_concurrent_misses_share_one_lookup() -> None:
    cache = PrincipalCache()
    calls = 0

    async def lookup() -> Principal | None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return ALICE

    async def main() -> list[Principal | None]:
        return await asyncio.gather(*(cache.load("digest", lookup) for _ in range(20)))

    assert asyncio.run(main()) == [ALICE] * 20
    assert calls == 1
    assert cache.get("digest") == (True, ALICE)


def test_a_failed_lookup_reaches_every_waiter_and_is_not_remembered() -> None:
    cache = PrincipalCache()

    async def lookup() -> Principal | None:
        await asyncio.sleep(0.01)
        raise OSError("database down")

    async def main() -> list[object]:
        return await asyncio.gather(*(cache.load("digest", lookup) for _ in range(3)), return_exceptions=True)

    assert all(isinstance(r, OSError) for r in asyncio.run(main()))
    assert cache.get("digest") == (False, None)


def test_clear_during_a_lookup_keeps_its_answer_out() -> None:
    cache = PrincipalCache()

    async def lookup() -> Principal | None:
        await asyncio.sleep(0.05)
        return ALICE

    async def main() -> Principal | None:
        first = asyncio.ensure_future(cache.load("digest", lookup))
        await asyncio.sleep(0.01)
        cache.clear()  # an admin change while the lookup runs
        return await first

    assert asyncio.run(main()) is ALICE
    assert cache.get("digest") == (False, None)


@pytest.mark.parametrize("waiters", [1, 5])
def test_a_cancelled_waiter_does_not_cancel_the_lookup(waiters: int) -> None:
    cache = PrincipalCache()

    async def lookup() -> Principal | None:
        await asyncio.sleep(0.05)
        return ALICE

    async def main() -> None:
        tasks = [asyncio.ensure_future(cache.load("digest", lookup)) for _ in range(waiters)]
        await asyncio.sleep(0.01)
        tasks[0].cancel()
        await asyncio.sleep(0.08)

    asyncio.run(main())
    assert cache.get("digest") == (True, ALICE)
