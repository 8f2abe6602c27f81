"""What the submission tests do over and over: submit, wait for a status, read a simulator's receipts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import httpx

from tests.core.bus.payloads import Supply
from tests.core.conftest import POPULATION

SUPPLY = Supply(POPULATION)
FINAL = {"submitted", "rejected", "failed"}
FAST = {"submit_retry_attempts": 2, "submit_retry_wait_s": 0.05, "submit_schedule_s": [0.3, 0.6],
        "bus_poll_s": 0.05, "agency_timeout_s": 2.0, "breaker_threshold": 1000, "rate_limit_per_s": 0}
"""Settings that keep retry tests short: two quick calls, then rescheduled after 0.3 s, 0.6 s, 0.6 s …"""


def submit(api: Any, headers: dict[str, str], request: dict[str, Any], key: str | None = None) -> dict[str, Any]:
    response = api.post("/v1/applications", json=request, headers={**headers, "Idempotency-Key": key or
                                                                    str(uuid.uuid4())})
    assert response.status_code == 202, response.text
    return response.json()  # type: ignore[no-any-return]


def wait_until(check: Callable[[], Any], timeout_s: float = 20.0, interval_s: float = 0.05,
               what: str | Callable[[], str] = "condition") -> Any:
    """`check()` until it is truthy; else an AssertionError naming `what` (a callable: described when it fails,
    so the message can carry the state at that moment)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what() if callable(what) else what}")
        time.sleep(interval_s)


def wait_status(api: Any, headers: dict[str, str], app_id: str, statuses: Iterable[str] = FINAL,
                timeout_s: float = 20.0) -> dict[str, Any]:
    wanted = set(statuses)
    last: dict[str, Any] = {}

    def check() -> dict[str, Any] | None:
        nonlocal last
        last = api.get(f"/v1/applications/{app_id}", headers=headers).json()
        return last if last.get("status") in wanted else None

    try:
        return wait_until(check, timeout_s, what=f"{app_id} in {sorted(wanted)}")  # type: ignore[no-any-return]
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last seen: {last}") from None


def receipts(url: str) -> dict[str, int]:
    """Submissions the simulator at `url` received, per idempotency key."""
    return httpx.get(f"{url}/_sim/stats", timeout=5).json()["submissions"]  # type: ignore[no-any-return]


def history(view: dict[str, Any]) -> list[str]:
    return [step["status"] for step in view["history"]]
