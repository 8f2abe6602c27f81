"""Per-agency call metrics, fed by the breaker wrapper (connectors/breaker.py), the one place every call passes.

`observer(agency)` hands the wrapper a function holding pre-resolved histogram and counter children, so a call
costs two `perf_counter()`s and two lock-protected increments (no label lookup). Kept apart from
core/ops/metrics.py so core/agencies.py can import it without the database and broker machinery.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from connectors.breaker import Observer

AGENCY_SECONDS = Histogram(
    "gerbang_agency_call_seconds",
    "Duration of calls to agencies, by agency and operation.",
    ["agency", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
AGENCY_CALLS = Counter(
    "gerbang_agency_calls",
    "Calls to agencies by outcome: ok, refused, failed (transient), error, circuit_open.",
    ["agency", "operation", "outcome"],
)
OPERATIONS = ("lookup", "verify", "submit")
OUTCOMES = ("ok", "refused", "failed", "error", "circuit_open")


def observer(agency: str) -> Observer:
    """The breaker's observer for one agency, every label child resolved once (no label lookup per call)."""
    timers = {op: AGENCY_SECONDS.labels(agency, op) for op in OPERATIONS}
    counts = {(op, out): AGENCY_CALLS.labels(agency, op, out) for op in OPERATIONS for out in OUTCOMES}

    def observe(operation: str, outcome: str, seconds: float) -> None:
        counter = counts.get((operation, outcome))
        if counter is None:  # an operation added later: resolved on first use
            counter = counts[(operation, outcome)] = AGENCY_CALLS.labels(agency, operation, outcome)
        counter.inc()
        if outcome != "circuit_open":
            timer = timers.get(operation) or AGENCY_SECONDS.labels(agency, operation)
            timer.observe(seconds)

    return observe
