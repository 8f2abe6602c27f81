"""POSTing one batch to its subscriber: signed the Standard Webhooks way, no redirects followed, at most
`max_response_bytes` of the answer read, and what came back classified as a `Result`.

Why apart: this is the only step that leaves Gerbang. The URL is checked against the allow-list again at each
send (the operator may have narrowed it since the subscription was made).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from connectors import tracing
from core.audit.note import Signer
from core.callbacks import signing
from core.callbacks.batches import Ready
from core.callbacks.config import Config, NotAllowed, check_url
from core.callbacks.secrets import signing_secrets

ERROR_MAX = 500


@dataclass(frozen=True)
class Result:
    """What one POST came to: `outcome` delivered / retry / gone / refused, and what we saw."""

    outcome: str
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0


async def send(client: httpx.AsyncClient, ready: Ready, signer: Signer | None, config: Config, key: bytes) -> Result:
    """POST one batch: signed, no redirects followed, at most `max_response_bytes` of the answer read."""
    try:
        check_url(ready.url, config.allowed_hosts)
    except NotAllowed as exc:
        return Result("refused", error=str(exc))
    headers = {
        "Content-Type": "application/json",
        **_traceparent(),
        **signing.headers(
            ready.batch_id, signing_secrets(ready.secret, ready.subscription_id, key), signer, ready.body
        ),
    }
    started = time.perf_counter()
    try:
        async with client.stream("POST", ready.url, content=ready.body, headers=headers) as response:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= config.max_response_bytes:
                    break
            code = response.status_code
    except httpx.HTTPError as exc:
        return Result(
            "retry",
            error=f"{type(exc).__name__}: {exc}"[:ERROR_MAX],
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
    elapsed = int((time.perf_counter() - started) * 1000)
    if 200 <= code < 300:
        return Result("delivered", code, duration_ms=elapsed)
    if code == 410:
        return Result("gone", code, "410 Gone: the subscription is disabled", elapsed)
    return Result("retry", code, f"HTTP {code}", elapsed)


def _traceparent() -> dict[str, str]:
    """The delivery span's W3C traceparent for the receiver, with tracing on (not covered by the signature)."""
    value = tracing.current_traceparent()
    return {"traceparent": value} if value else {}
