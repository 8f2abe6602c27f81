"""Call the agency for one claimed attempt, and classify what came back as an `Outcome`.

Why its own module: this is the only step that leaves Gerbang, and the only one on the event loop rather than
in a transaction. A short tenacity retry absorbs transient failures within the attempt's call budget; what is
still failing after it becomes a `retry` outcome, which `finish` turns into a later attempt (or `failed` past
the deadline). The agency always receives the application id as the idempotency key, so a repeated call never
creates a second application there. Never raises: a connector bug must not lose the application.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from connectors.base import (
    AgencyAccessDenied,
    AgencyError,
    AgencyRejected,
    NotSupported,
    SubmitResult,
)
from core.bus.claim import Work
from core.bus.models import Status
from core.bus.states import Policy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """The result of calling the agency: `status` submitted / rejected / retry."""

    status: str
    reference: str | None = None
    detail: Mapping[str, Any] | None = None
    reason: str | None = None
    code: str | None = None
    retry_after_s: float | None = None
    calls: int = 1


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, AgencyError) and exc.transient or isinstance(exc, (asyncio.TimeoutError, TimeoutError))


async def call_agency(connector: Any, work: Work, policy: Policy) -> Outcome:
    """Submit with a short retry for transient failures; classify the end result. Never raises."""
    calls = 0

    async def once() -> SubmitResult:
        nonlocal calls
        calls += 1
        async with asyncio.timeout(policy.call_budget_s):  # no extra task per call, unlike wait_for
            return await connector.submit(work.service, work.payload, work.application_id)

    first: BaseException | None = None

    async def again() -> SubmitResult:
        """The first attempt's transient failure once more (tenacity then waits and retries), then `once`."""
        nonlocal first
        if first is not None:
            error, first = first, None
            raise error
        return await once()

    try:
        try:  # the common case, a first call that succeeds, without building the retry machinery
            result = await once()
        except Exception as exc:
            if not _transient(exc) or policy.retry_attempts <= 1:
                raise
            first = exc
            retrying = AsyncRetrying(
                stop=stop_after_attempt(policy.retry_attempts),
                reraise=True,
                wait=wait_exponential(
                    multiplier=policy.retry_wait_s, min=policy.retry_wait_s, max=policy.retry_wait_s * 8
                ),
                retry=retry_if_exception(_transient),
            )
            result = await retrying(again)
    except (AgencyRejected, NotSupported) as exc:
        return Outcome(Status.rejected.value, reason=exc.message, code=exc.code, calls=calls)
    except AgencyAccessDenied as exc:  # our credentials or registration: an operator must act, so keep trying
        return Outcome("retry", reason=f"access denied: {exc.message}", code=exc.code, calls=calls)
    except AgencyError as exc:
        return Outcome("retry", reason=exc.message, code=exc.code, retry_after_s=exc.retry_after_s, calls=calls)
    except TimeoutError:
        return Outcome("retry", reason="no answer in time", code="timeout", calls=calls)
    except Exception as exc:  # a connector bug must not lose the application: retry until the deadline
        log.exception("connector %s raised %s on application %s", work.agency, type(exc).__name__, work.application_id)
        return Outcome("retry", reason=f"internal error ({type(exc).__name__})", code="internal", calls=calls)
    return Outcome(Status.submitted.value, reference=result.reference, detail=dict(result.detail), calls=calls)
