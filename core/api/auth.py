"""Bearer API-key authentication and scope checks, as FastAPI dependencies.

Keys are looked up by hash; answers are cached for a couple of seconds per process so a busy counter does not cost
a database round trip per request, while a revoked key, a disabled client or a changed agreement takes effect
within that time. Then, per request and from memory: the agreement's dates (403 `agreement_expired` /
`agreement_not_started`) and the client's rate limit (429 `rate_limited`, tokens leased from the shared bucket in
batches: core/security/ratelimit.py).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from sqlmodel import Session

from core.api.problems import Problem, scope_missing
from core.api.state import app_state
from core.security.clients import Principal, authenticate
from core.security.keys import hash_key
from core.security.scopes import allowed
from identity.clock import today_wib

CACHE_TTL_S = 2.0


class PrincipalCache:
    """key hash → (principal or None, expiry); small and short-lived on purpose.

    `load` is single-flight per key: when an answer expires under load, the requests arriving meanwhile wait for
    the one database lookup already under way instead of each starting their own."""

    def __init__(self, ttl_s: float = CACHE_TTL_S, max_entries: int = 10_000):
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._entries: dict[str, tuple[Principal | None, float]] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, asyncio.Task[Principal | None]] = {}

    async def load(self, digest: str, lookup: Callable[[], Awaitable[Principal | None]]) -> Principal | None:
        """The answer for `digest` from `lookup()` (then remembered), sharing a lookup already in flight."""
        task = self._loading.get(digest)
        if task is None:
            task = asyncio.ensure_future(lookup())
            self._loading[digest] = task

            def done(finished: asyncio.Task[Principal | None]) -> None:
                failed = finished.cancelled() or finished.exception() is not None
                if self._loading.get(digest) is not finished:
                    return  # forgotten by clear() meanwhile: its answer may predate the change
                del self._loading[digest]
                if not failed:
                    self.put(digest, finished.result())

            task.add_done_callback(done)
        return await asyncio.shield(task)

    def get(self, digest: str) -> tuple[bool, Principal | None]:
        entry = self._entries.get(digest)
        if entry is None or entry[1] < time.monotonic():
            return False, None
        return True, entry[0]

    def clear(self) -> None:
        """Forget every answer (after an admin change, so it applies at once in this process)."""
        with self._lock:
            self._entries.clear()
            self._loading.clear()

    def put(self, digest: str, principal: Principal | None) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[digest] = (principal, time.monotonic() + self.ttl_s)


UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="gerbang"'}
MAX_RETRY_AFTER_S = 86_400.0  # a Retry-After beyond a day says nothing more


async def current_principal(request: Request) -> Principal:
    """The caller, from `Authorization: Bearer <key>`; 401 `unauthenticated` otherwise.

    Async on purpose: FastAPI runs sync dependencies in a thread pool, which would cost more than the cached
    lookup itself; only a cache miss goes to the database, in a worker thread."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Problem(
            401,
            "unauthenticated",
            "An API key is required",
            "Send the key as 'Authorization: Bearer <key>'.",
            headers=UNAUTHORIZED,
        )
    state = app_state(request.app)
    digest = hash_key(token)
    hit, principal = state.principals.get(digest)
    if not hit:
        principal = await state.principals.load(
            digest, lambda: asyncio.to_thread(lookup_principal, state.sessions, token)
        )
    if principal is None:
        raise Problem(401, "unauthenticated", "The API key is not valid", headers=UNAUTHORIZED)
    refusal = principal.agreement_state(today_wib())
    if refusal is not None:
        raise Problem(
            403,
            refusal,
            "The client's agreement is not in force",
            f"Agreement {principal.agreement} is valid from {principal.agreement_from or '-'} to "
            f"{principal.agreement_to or '-'} (WIB).",
            agreement=principal.agreement,
        )
    wait = await state.rates.take(f"client:{principal.client_id}", principal.limit(state.rates.default))
    if wait is not None:
        retry = max(1, math.ceil(min(wait, MAX_RETRY_AFTER_S)))  # a tiny configured rate must not overflow
        raise Problem(
            429,
            "rate_limited",
            "Too many requests for this client",
            f"Try again in {retry} s.",
            headers={"Retry-After": str(retry)},
        )
    return principal


def lookup_principal(sessions: Callable[[], Session], token: str) -> Principal | None:
    with sessions() as session:
        return authenticate(session, token)


def require(scope: str) -> Callable[[Principal], Awaitable[Principal]]:
    """Dependency: the caller must hold `scope` (403 `scope_missing` otherwise)."""

    async def check(principal: Principal = Depends(current_principal)) -> Principal:
        if not allowed(principal.scopes, scope):
            raise scope_missing(scope)
        return principal

    return check
