"""Rate limits per client and concurrency limits per agency, shared by processes through the database.

The two-process tests start two real `gerbang serve` processes on the test database (SQLite file, and PostgreSQL
when configured) and load them together: the client's bucket and each agency's in-flight limit hold for the sum
of both, not for each.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from connectors.registry import discover
from core.db import make_engine
from core.demo import agency_environment
from core.security.concurrency import Slots, share
from core.security.models import process_table
from core.security.ratelimit import Limit, RateLimiter, lease
from tests.conftest import BUS_SECRETS
from tests.core.conftest import COUNTER_CONTEXT, POPULATION

ALIVE = [p for p in POPULATION.people if p.life_status == "alive" and p.in_dukcapil]


# --- the pieces ------------------------------------------------------------------------------------------------

def test_bucket_refills_with_time_and_never_beyond_its_burst(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        limit = Limit(rate=2.0, burst=5)
        assert lease(engine, "c", limit, 3, now=1000.0).tokens == 3   # a new bucket starts full
        assert lease(engine, "c", limit, 3, now=1000.0).tokens == 2
        empty = lease(engine, "c", limit, 3, now=1000.0)
        assert empty.tokens == 0 and empty.retry_after_s == pytest.approx(0.5)
        assert lease(engine, "c", limit, 3, now=1001.0).tokens == 2   # 1 s at 2/s
        assert lease(engine, "c", limit, 10, now=2000.0).tokens == 5  # long idle: only the burst
        assert lease(engine, "other", limit, 10, now=2000.0).tokens == 5
    finally:
        engine.dispose()


def test_limiter_spends_leased_tokens_without_the_database(database_url: str) -> None:
    import asyncio

    engine = make_engine(database_url)
    trips = 0
    original = lease

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal trips
        trips += 1
        return original(*args, **kwargs)

    limiter = RateLimiter(engine, Limit(rate=100.0, burst=50), lease_s=0.2)  # batches of 20
    import core.security.ratelimit as module

    module.lease, saved = counting, module.lease  # type: ignore[assignment]
    try:
        results = asyncio.run(_take_many(limiter, 50))
    finally:
        module.lease = saved  # type: ignore[assignment]
        engine.dispose()
    assert results.count(None) == 50  # the burst
    assert trips <= 4, f"{trips} database trips for 50 requests"


async def _take_many(limiter: RateLimiter, n: int) -> list[Any]:
    return [await limiter.take("client:1") for _ in range(n)]


def test_concurrent_requests_share_one_lease_and_an_empty_bucket_costs_no_trips(database_url: str) -> None:
    """Requests arriving together wait for one lease instead of each emptying the bucket; once it is empty,
    refusals come from memory until its next token is due."""
    import asyncio

    import core.security.ratelimit as module

    engine = make_engine(database_url)
    trips = 0
    original = module.lease

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal trips
        trips += 1
        return original(*args, **kwargs)

    async def burst(limiter: RateLimiter, n: int) -> list[Any]:
        return list(await asyncio.gather(*(limiter.take("client:7") for _ in range(n))))

    module.lease = counting  # type: ignore[assignment]
    try:
        generous = asyncio.run(burst(RateLimiter(engine, Limit(rate=1000.0, burst=1000), lease_s=0.25), 200))
        assert generous.count(None) == 200 and trips == 1
        trips = 0
        tight = asyncio.run(burst(RateLimiter(engine, Limit(rate=1.0, burst=5), lease_s=0.25), 100))
    finally:
        module.lease = original  # type: ignore[assignment]
        engine.dispose()
    assert tight.count(None) == 5 and all(0 < w <= 1.0 for w in tight if w is not None)
    assert trips <= 6, f"{trips} database trips for 100 requests against an empty bucket"


@pytest.mark.parametrize(("limit", "count", "shares"), [
    (10, 1, [10]), (10, 3, [4, 3, 3]), (2, 2, [1, 1]), (16, 5, [4, 3, 3, 3, 3]), (1, 3, [1, 1, 1]),
])
def test_shares_add_up_to_the_limit(limit: int, count: int, shares: list[int]) -> None:
    assert [share(limit, count, rank) for rank in range(count)] == shares


def test_slots_hold_calls_to_the_capacity() -> None:
    slots = Slots("x", 2)
    assert slots.try_acquire() and slots.try_acquire() and not slots.try_acquire()
    slots.release()
    assert slots.try_acquire() and slots.peak == 2


def test_api_answers_429_with_retry_after(make_api, add_client) -> None:  # type: ignore[no-untyped-def]
    api = make_api(rate_limit_per_s=1.0, rate_limit_burst=3)
    slow = {"Authorization": f"Bearer {add_client('slow', ['application:read'])}"}
    codes = [api.get("/v1/applications", headers=slow) for _ in range(5)]
    assert [r.status_code for r in codes] == [200, 200, 200, 429, 429]
    refused = codes[3]
    assert refused.json()["code"] == "rate_limited" and 1 <= int(refused.headers["retry-after"]) <= 2
    fast = {"Authorization": f"Bearer {add_client('fast', ['application:read'])}"}
    assert api.get("/v1/applications", headers=fast).status_code == 200  # buckets are per client


def test_a_clients_own_limit_overrides_the_settings(make_api, add_client, sessions) -> None:  # type: ignore[no-untyped-def]
    from core.security.clients import update_client

    api = make_api(rate_limit_per_s=1.0, rate_limit_burst=2)
    key = {"Authorization": f"Bearer {add_client('agency-x', ['application:read'])}"}
    with sessions() as session:
        update_client(session, "agency-x", rate_per_s=0.0)  # unlimited
    assert all(api.get("/v1/applications", headers=key).status_code == 200 for _ in range(10))


# --- two processes ---------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(database_url: str, data_dir: Path, **env: str) -> Iterator[list[str]]:
    """Start two `gerbang serve` processes on the test database; yields their base URLs."""
    gerbang = str(Path(sys.executable).with_name("gerbang"))
    base = {k: v for k, v in os.environ.items() if not k.startswith("GERBANG_")}
    base.update({"GERBANG_DATABASE_URL": database_url, "GERBANG_DATA_DIR": str(data_dir),
                 "GERBANG_LOG_LEVEL": "WARNING", **{f"GERBANG_{k.upper()}": v for k, v in BUS_SECRETS.items()},
                 **env})
    processes, urls = [], []
    try:
        for _ in range(2):
            port = free_port()
            processes.append(subprocess.Popen([gerbang, "serve", "--port", str(port)], env=base,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 40
        for process, url in zip(processes, urls):
            while True:
                try:
                    httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"gerbang serve did not start: {process.stderr.read().decode()}"
                                           ) from None  # type: ignore[union-attr]
                    time.sleep(0.1)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def test_rate_limit_holds_across_two_processes(database_url: str, add_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rate, burst = 10.0, 10
    key = {"Authorization": f"Bearer {add_client('busy-counter', ['application:read'])}"}
    with serve(database_url, tmp_path, GERBANG_RATE_LIMIT_PER_S=str(rate),
                                  GERBANG_RATE_LIMIT_BURST=str(burst), GERBANG_RATE_LEASE_S="0.2") as urls:
        statuses: dict[str, list[int]] = {url: [] for url in urls}
        with httpx.Client(headers=key, timeout=10) as client:
            started = time.monotonic()
            while time.monotonic() - started < 2.0:
                for url in urls:
                    reply = client.get(f"{url}/v1/applications")
                    statuses[url].append(reply.status_code)
                    if reply.status_code == 429:
                        assert reply.json()["code"] == "rate_limited" and int(reply.headers["retry-after"]) >= 1
            elapsed = time.monotonic() - started
    accepted = {url: codes.count(200) for url, codes in statuses.items()}
    total = sum(accepted.values())
    allowed = burst + rate * elapsed
    assert set(code for codes in statuses.values() for code in codes) == {200, 429}
    assert total <= math.ceil(allowed) + 1, f"{accepted} accepted in {elapsed:.2f} s; the shared bucket allows " \
                                            f"{allowed:.0f} (two separate buckets would allow twice that)"
    assert total >= 0.6 * allowed and min(accepted.values()) >= 3, accepted


def test_agency_concurrency_holds_across_two_processes(database_url: str, add_client, simulators,  # type: ignore[no-untyped-def]
                                                       set_fault, tmp_path: Path) -> None:
    key = {"Authorization": f"Bearer {add_client('counter', ['citizen:read:*'], ['sim_renewal'])}",
           **COUNTER_CONTEXT}
    env = {k: v for k, v in agency_environment(discover(), simulators).items()
           if k.startswith(("GERBANG_AGENCY_DUKCAPIL_", "GERBANG_AGENCY_KORLANTAS_"))}
    korlantas = simulators["korlantas"].url
    with serve(database_url, tmp_path, **env, GERBANG_AGENCY_KORLANTAS_CONCURRENCY="2",
                                  GERBANG_CENSUS_INTERVAL_S="0.3", GERBANG_AGENCY_TIMEOUT_S="8",
                                  GERBANG_LOOKUP_BUDGET_S="15", GERBANG_RATE_LIMIT_PER_S="0") as urls:
        engine = make_engine(database_url)
        try:
            deadline = time.monotonic() + 10
            while True:
                with engine.connect() as connection:  # closed each time: a leaked one would block DROP SCHEMA
                    if connection.execute(select(func.count()).select_from(process_table)).scalar_one() >= 2:
                        break
                assert time.monotonic() < deadline, "the processes did not join the census"
                time.sleep(0.1)
        finally:
            engine.dispose()
        time.sleep(0.7)  # another beat each: both now count two processes, one slot each
        httpx.post(f"{korlantas}/_sim/reset").raise_for_status()
        set_fault("korlantas", "slow", 300)

        def lookup(index: int) -> Any:
            url = urls[index % 2]
            return httpx.get(f"{url}/v1/citizens/{ALIVE[index].nik}", headers=key, timeout=30,
                             params={"purpose": "sim_renewal", "refresh": "true"})

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            replies = list(pool.map(lookup, range(12)))
        stats = httpx.get(f"{korlantas}/_sim/stats").json()
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies if r.status_code != 200]
    facets = [r.json()["facets"]["driving_licences"]["provenance"]["status"] for r in replies]
    assert all(s in ("ok", "not_found") for s in facets), facets  # queued, not failed
    assert stats["requests"] >= 12
    assert stats["max_inflight"] <= 2, f"{stats['max_inflight']} calls in flight at once; the limit is 2"
