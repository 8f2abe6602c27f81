"""connectors/rest.py: relative paths resolved once per client, to the URL httpx itself would have built; the
pool's one-pass bookkeeping, deciding as httpcore's own, and its expiry check of the connection it picks."""

from __future__ import annotations

import asyncio
import random
from types import SimpleNamespace

import httpcore
import httpx
import respx

from connectors.httpcore_pool import _Pool
from connectors.rest import _RESOLVED_MAX, make_client, resolve, send

PATHS = ["/a/b", "a/b?x=1&y=%20z", "/p%2Fq", "/", "/ruang spasi", "/é"]


def test_resolve_gives_what_httpx_builds() -> None:
    client = httpx.AsyncClient(base_url="http://127.0.0.1:9/sub")
    for path in PATHS:
        resolved = resolve(client, path)
        assert isinstance(resolved, httpx.URL)
        assert resolved == client.build_request("GET", path).url, path
    assert resolve(client, "/a/b") is resolve(client, "/a/b")  # kept, not rebuilt
    assert resolve(client, "http://elsewhere/x") == "http://elsewhere/x"  # absolute: untouched


def test_resolve_merges_as_httpx_does_on_every_kind_of_base() -> None:
    """httpx's merge (appended to the base path, which it ends with "/"), not RFC 3986's `base_url.join`."""
    paths = [*PATHS, "", "?q=1", "a/../b", "./a", "//x/y", "/a#frag"]
    for base in ("http://h.test", "http://h.test/", "http://h.test/v1", "http://h.test/v1/", "https://h.test/a/b/"):
        client = httpx.AsyncClient(base_url=base)
        for path in paths:
            assert resolve(client, path) == client.build_request("GET", path).url, (base, path)
    client = httpx.AsyncClient(base_url="http://h.test/v1")
    assert str(resolve(client, "/x")) == "http://h.test/v1/x" != str(client.base_url.join("/x"))
    assert str(resolve(client, "x/")) == "http://h.test/v1/x/"


def test_resolve_is_per_client_and_bounded() -> None:
    first = httpx.AsyncClient(base_url="http://one.test/v1")
    second = httpx.AsyncClient(base_url="http://two.test/v2/")
    assert str(resolve(first, "/x")) == "http://one.test/v1/x"
    assert str(resolve(second, "/x")) == "http://two.test/v2/x"
    for i in range(_RESOLVED_MAX + 10):  # paths with ids in them: still right past the bound, just not kept
        assert str(resolve(first, f"/status/{i}")) == f"http://one.test/v1/status/{i}"
    assert resolve(first, f"/status/{_RESOLVED_MAX + 5}") is not resolve(first, f"/status/{_RESOLVED_MAX + 5}")


@respx.mock
def test_send_reaches_the_same_url_with_params() -> None:
    route = respx.post("http://agency.test/api/submit", params={"q": "1"}).mock(
        return_value=httpx.Response(200, json={"ok": True}))

    async def main() -> httpx.Response:
        client = make_client("http://agency.test/api", transport=None)
        try:
            await send(client, "oss", "POST", "/submit", params={"q": "1"}, json={})
            return await send(client, "oss", "POST", "/submit", params={"q": "1"}, json={})
        finally:
            await client.aclose()

    assert asyncio.run(main()).json() == {"ok": True}
    assert route.call_count == 2


class FakeConnection:
    """The parts of an httpcore connection the pool's bookkeeping asks about."""

    def __init__(self, ident: int, rng: random.Random, origin: str):
        self.ident, self.origin = ident, origin
        self.closed, self.expired, self.idle = (rng.random() < 0.15, rng.random() < 0.15, rng.random() < 0.5)
        self.available = self.idle and rng.random() < 0.8

    def is_closed(self) -> bool:
        return self.closed

    def has_expired(self) -> bool:
        return self.expired

    def is_idle(self) -> bool:
        return self.idle

    def is_available(self) -> bool:
        return self.available

    def can_handle_request(self, origin: str) -> bool:
        return origin == self.origin


class FakeRequest:
    def __init__(self, queued: bool, origin: str):
        self.request = SimpleNamespace(url=SimpleNamespace(origin=origin))
        self.queued, self.assigned = queued, None

    def is_queued(self) -> bool:
        return self.queued

    def assign_to_connection(self, connection: FakeConnection) -> None:
        self.assigned = connection.ident


def pool_state(seed: int) -> SimpleNamespace:
    """A random pool: connections in every state, to two origins, queued and running requests, limits."""
    rng = random.Random(seed)
    origins = ["http://a", "http://b"]
    created = iter(range(1000, 2000))
    state = SimpleNamespace(
        _connections=[FakeConnection(i, rng, rng.choice(origins)) for i in range(rng.randint(0, 12))],
        _requests=[FakeRequest(rng.random() < 0.6, rng.choice(origins)) for _ in range(rng.randint(0, 6))],
        _max_keepalive_connections=rng.randint(0, 10), _max_connections=rng.randint(1, 12))
    state.create_connection = lambda origin: FakeConnection(next(created), random.Random(0), origin)
    return state


def test_pool_bookkeeping_decides_as_httpcore() -> None:
    """`_Pool` keeps the count as it goes instead of re-counting per connection; on 3,000 random pools it
    drops, closes, creates and assigns exactly what httpcore's own method does."""
    for seed in range(3000):
        ours, theirs = pool_state(seed), pool_state(seed)
        closing_ours = _Pool._assign_requests_to_connections(ours)  # type: ignore[arg-type]
        closing_theirs = httpcore.AsyncConnectionPool._assign_requests_to_connections(theirs)  # type: ignore
        assert [c.ident for c in ours._connections] == [c.ident for c in theirs._connections], seed
        assert [c.ident for c in closing_ours] == [c.ident for c in closing_theirs], seed
        assert [r.assigned for r in ours._requests] == [r.assigned for r in theirs._requests], seed


def realistic_pool(seed: int) -> SimpleNamespace:
    """A random pool as HTTP/1.1 has them: an idle connection is available, only an idle one can have expired."""
    state = pool_state(seed)
    for connection in state._connections:
        connection.available = connection.idle
        connection.expired = connection.expired and connection.idle
    return state


def test_between_sweeps_a_request_never_gets_an_expired_connection() -> None:
    """Between sweeps `_Pool` asks only the connections it picks whether they expired: on 3,000 random pools it
    serves every request httpcore serves (an unpicked expired connection is idle, so it makes room when room is
    needed), never on an expired or closed connection, and closes each expired one it picked."""
    for seed in range(3000):
        ours, theirs = realistic_pool(seed), realistic_pool(seed)
        ours._sweep_at = float("inf")
        before = {c.ident: c for c in ours._connections}
        closing = _Pool._assign_requests_to_connections(ours)  # type: ignore[arg-type]
        httpcore.AsyncConnectionPool._assign_requests_to_connections(theirs)  # type: ignore[arg-type]
        served = [r.assigned is not None for r in ours._requests]
        assert all(mine or not other.assigned for mine, other in zip(served, theirs._requests)), seed
        used = {r.assigned for r in ours._requests if r.assigned is not None}
        assert not [i for i in used if i in before and (before[i].expired or before[i].closed)], seed
        assert {c.ident for c in ours._connections}.isdisjoint(c.ident for c in closing), seed
        assert all(not c.closed for c in ours._connections), seed


def test_a_sweep_is_at_most_a_second_apart() -> None:
    """The first pass sweeps (as httpcore would); the next within SWEEP_S does not ask the connections nobody
    picks; after SWEEP_S one sweeps again."""
    asked: list[int] = []
    state = realistic_pool(7)
    for connection in state._connections:
        connection.has_expired = lambda c=connection: asked.append(c.ident) or c.expired  # type: ignore
    state._requests = []
    _Pool._assign_requests_to_connections(state)  # type: ignore[arg-type]
    first = len(asked)
    assert first == len([c for c in realistic_pool(7)._connections if not c.closed]) > 0
    _Pool._assign_requests_to_connections(state)  # type: ignore[arg-type]
    assert len(asked) == first
    state._sweep_at -= _Pool.SWEEP_S
    _Pool._assign_requests_to_connections(state)  # type: ignore[arg-type]
    assert len(asked) > first


def test_a_connection_the_server_closed_is_not_reused_between_sweeps() -> None:
    """A loopback server that closes each connection after its answer (while saying keep-alive): the next call,
    well within SWEEP_S, finds the pooled connection closed when it picks it and opens another, instead of
    failing with "server disconnected"."""
    accepted = 0

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def main() -> list[int]:
        server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = make_client(f"http://127.0.0.1:{port}")
        try:
            statuses = []
            for _ in range(3):
                statuses.append((await client.get("/")).status_code)
                await asyncio.sleep(0.05)   # the server's FIN arrives; no sweep is due yet
            return statuses
        finally:
            await client.aclose()
            server.close()

    assert asyncio.run(main()) == [200, 200, 200]
    assert accepted == 3


def test_connectors_get_the_one_pass_pool() -> None:
    client = make_client("http://agency.test")
    assert type(client._transport._pool) is _Pool  # type: ignore[attr-defined]
    asyncio.run(client.aclose())
