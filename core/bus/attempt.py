"""One attempt at submitting an application, the same in embedded and distributed mode — the submit journey's
path through core/bus, step by step:

    message (core/bus/message.py: ids only, from the outbox via the relay or the embedded dispatcher)
    → gate (core/bus/gates.py: wait for one of the agency's slots before anything is claimed)
    → begin (core/bus/claim.py, tx: inbox check, compare-and-set claim with a lease)
    → call the agency (core/bus/agency_call.py: a short tenacity retry, the result classified)
    → finish (core/bus/finish.py, tx: the outcome and the inbox row) → ack

Around it: core/bus/sweep.py dispatches due retries and attempts whose lease ran out again, and
`core.bus.service.replay` is the operator's way back for a failed application. The database steps run gathered
into micro-batches (core/bus/steps.py), on threads; the call runs on the event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from connectors import tracing
from core.bus.agency_call import Outcome, call_agency
from core.bus.claim import Skip
from core.bus.gates import AgencyGates
from core.bus.message import Message
from core.bus.states import Policy
from core.bus.steps import BatchedSteps

log = logging.getLogger(__name__)


def consume_span(message: Message, queue: str, traceparent: str | None) -> Any:
    """The CONSUMER span of one message's processing, in the submission's trace when the message carried it
    (a no-op when tracing is off)."""
    return tracing.span(
        f"{queue} process",
        {
            "messaging.system": "rabbitmq" if queue != "embedded" else "gerbang",
            "messaging.operation.type": "process",
            "messaging.destination.name": queue,
            "messaging.message.id": message.message_id,
            "gerbang.agency": message.agency,
            "gerbang.application.id": message.application_id,
        },
        kind=tracing.SpanKind.CONSUMER,
        context=tracing.context_of(traceparent),
    )


async def attempt(
    steps: BatchedSteps, message: Message, connectors: Mapping[str, Any], policy: Policy, gates: AgencyGates
) -> str:
    """Process one message end to end (database steps on threads, the call on the loop); returns the resulting
    status or the reason it was skipped. Raises PoisonMessage for a message that can never be processed."""
    await gates.enter(message.agency)
    try:
        return await _attempt(steps, message, connectors, policy)
    finally:
        await gates.leave(message.agency)


async def _attempt(steps: BatchedSteps, message: Message, connectors: Mapping[str, Any], policy: Policy) -> str:
    started = time.perf_counter()
    claimed = await steps.begin(message)
    if isinstance(claimed, Skip):
        return claimed.reason
    trace = tracing.current_traceparent()  # the consuming span: the attempt's events and its retry continue it
    if trace is not None:
        claimed = replace(claimed, traceparent=trace)
    called = time.perf_counter()
    connector = connectors.get(claimed.agency)
    if connector is None:
        outcome = Outcome("retry", reason="agency not configured in this process", code="not_configured", calls=0)
    else:
        with tracing.span(
            f"submit {claimed.agency}",
            {"gerbang.agency": claimed.agency, "gerbang.service": claimed.service, "gerbang.attempt": claimed.attempt},
        ) as span:
            outcome = await call_agency(connector, claimed, policy)
            span.set_attributes({"gerbang.outcome": outcome.status, "gerbang.calls": outcome.calls})
    answered = time.perf_counter()
    status = await steps.finish(message, claimed, outcome)
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "application %s %s: begin %.1f ms, agency %.1f ms, finish %.1f ms",
            claimed.application_id,
            status,
            1000 * (called - started),
            1000 * (answered - called),
            1000 * (time.perf_counter() - answered),
        )
    return status
