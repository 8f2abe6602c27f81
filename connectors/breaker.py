"""A circuit breaker around any connector: after repeated failures, fail fast until a probe succeeds.

A legacy agency backend that is down should cost a counter nothing: once `threshold` consecutive transient
failures are seen the breaker opens and calls fail at once with AgencyUnavailable; after `reset_after_s` one call
is let through (half-open); its success closes the breaker, its failure opens it again. A refusal by the agency
(AgencyRejected, not-found) is an answer, not a failure.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from enum import Enum
from typing import Any, TypeVar

from connectors import tracing
from connectors.base import (
    OPTIONAL_CALLS,
    AgencyError,
    AgencyProtocolError,
    AgencyUnavailable,
    CodeLists,
    Connector,
    Health,
    LookupResult,
    SubmitResult,
    VerifyResult,
)

T = TypeVar("T")

READ_ERRORS = (KeyError, IndexError, TypeError, AttributeError, ValueError, RecursionError)
"""What a connector's parse code raises on a reply of a shape it does not know (a list where an object was due, a
missing key, a number that is text): the agency's reply was not understood, so it is an AgencyProtocolError, not a
500 nor an anonymous error."""


class BreakerState(str, Enum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


class CircuitBreaker:
    """Breaker state for one agency (thread-safe; the API's event loop and worker threads may share it)."""

    def __init__(
        self, agency: str, threshold: int = 5, reset_after_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ):
        self.agency, self.threshold, self.reset_after_s, self.clock = agency, threshold, reset_after_s, clock
        self.failures = 0
        self.opened_at: float | None = None
        self.probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return BreakerState.closed
        if self.clock() - self.opened_at >= self.reset_after_s:
            return BreakerState.half_open
        return BreakerState.open

    def admit(self) -> None:
        """Raise AgencyUnavailable if the call must not go out now."""
        with self._lock:
            state = self.state
            if state is BreakerState.closed:
                return
            if state is BreakerState.half_open and not self.probing:
                self.probing = True
                return
            assert self.opened_at is not None
            wait = max(0.0, self.reset_after_s - (self.clock() - self.opened_at))
            raise AgencyUnavailable(
                self.agency,
                "circuit open after repeated failures",
                code="circuit_open",
                retry_after_s=wait or self.reset_after_s,
            )

    def success(self) -> None:
        with self._lock:
            self.failures, self.opened_at, self.probing = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self.failures += 1
            if self.probing or self.failures >= self.threshold:
                self.opened_at = self.clock()
            self.probing = False

    def snapshot(self) -> dict[str, Any]:
        return {"state": self.state.value, "consecutive_failures": self.failures}


Observer = Callable[[str, str, float], None]
"""`observe(operation, outcome, seconds)`: told about every call (core/ops/metrics.py counts and times them).
Outcomes: ok, refused (the agency answered no: permanent AgencyError), failed (transient: timeout, down, 5xx),
error (anything else), circuit_open (not called at all)."""


class BreakerConnector:
    """A Connector that consults a CircuitBreaker before every call to the wrapped one — the one place every
    agency call passes, so it also reports each call's outcome and duration to an optional observer."""

    def __init__(self, inner: Connector, breaker: CircuitBreaker, observe: Observer | None = None):
        self.inner, self.breaker, self.observe = inner, breaker, observe
        self.name = inner.name

    async def _guarded(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        if not tracing.enabled():
            return await self._checked(operation, call, self.observe)
        attributes = {
            "gerbang.agency": self.name,
            "gerbang.operation": operation,
            "gerbang.breaker.state": self.breaker.state.value,
        }
        with tracing.span(f"{self.name} {operation}", attributes, kind=tracing.SpanKind.CLIENT) as span:

            def observe(op: str, outcome: str, seconds: float) -> None:
                span.set_attribute("gerbang.outcome", outcome)
                if self.observe is not None:
                    self.observe(op, outcome, seconds)

            return await self._checked(operation, call, observe)

    async def _checked(self, operation: str, call: Callable[[], Awaitable[T]], observe: Observer | None) -> T:
        try:
            self.breaker.admit()
        except AgencyUnavailable:
            if observe is not None:
                observe(operation, "circuit_open", 0.0)
            raise
        started = time.perf_counter()
        outcome = "ok"
        try:
            result = await call()
        except AgencyError as exc:
            if exc.transient:
                outcome = "failed"
                self.breaker.failure()
            else:
                outcome = "refused"
                self.breaker.success()
            raise
        except READ_ERRORS as exc:  # the connector's parse code met a reply shape it does not know
            outcome = "failed"
            self.breaker.failure()
            raise AgencyProtocolError(self.name, f"reply not understood ({type(exc).__name__})") from exc
        except BaseException:
            outcome = "error"
            self.breaker.failure()
            raise
        finally:
            if observe is not None:
                observe(operation, outcome, time.perf_counter() - started)
        self.breaker.success()
        return result

    async def lookup(self, nik: str) -> LookupResult:
        return await self._guarded("lookup", lambda: self.inner.lookup(nik))

    async def verify(self, nik: str, claims: Mapping[str, Any]) -> VerifyResult:
        return await self._guarded("verify", lambda: self.inner.verify(nik, claims))

    async def submit(self, service: str, payload: Mapping[str, Any], idempotency_key: str) -> SubmitResult:
        return await self._guarded("submit", lambda: self.inner.submit(service, payload, idempotency_key))

    async def health(self) -> Health:
        return await self.inner.health()  # health checks report, they do not trip or heal the breaker

    async def codes(self, name: str, query: str) -> list[dict[str, str]]:
        """One of the agency's code lists (ConnectorPlugin.code_lists), searched for `query`."""
        inner = self.inner
        if not isinstance(inner, CodeLists):
            raise AttributeError("codes")
        return await self._guarded("codes", lambda: inner.codes(name, query))

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:
        """An optional call the connector offers (`OPTIONAL_CALLS`), guarded like the call it counts as; nothing
        else of the inner connector shows through."""
        if name not in OPTIONAL_CALLS:
            raise AttributeError(name)
        call = getattr(self.inner, name)
        return lambda *args: self._guarded(OPTIONAL_CALLS[name], lambda: call(*args))
