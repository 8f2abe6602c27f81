"""How many attempts per agency may run at once in this process.

Why a gate before the attempt: the connectors wait for one of the agency's slots inside the call
(core/security/concurrency.py). An attempt that started (lease taken) and then queued for a slot would spend
its call budget waiting, time out, and be rescheduled for nothing; gated here, a message waits *before* its
attempt begins, still unacknowledged and within the prefetch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class AgencyGates:
    """At most as many attempts per agency at once as the agency's concurrency limit gives this process."""

    def __init__(self, capacity: Callable[[str], int]):
        self.capacity = capacity
        self.active: dict[str, int] = {}
        self._conditions: dict[str, asyncio.Condition] = {}

    @classmethod
    def of(cls, registry: Any, default: int) -> AgencyGates:
        """Gates sized by the registry's agency limits (their current share for this process), else `default`."""
        limits = getattr(registry, "limits", None)
        slots = getattr(limits, "slots", None) or {}

        def capacity(agency: str) -> int:
            found = slots.get(agency)
            return max(1, int(found.capacity)) if found is not None else default

        return cls(capacity)

    async def enter(self, agency: str) -> None:
        condition = self._conditions.get(agency)
        if condition is None:  # made on the loop that uses it
            condition = self._conditions[agency] = asyncio.Condition()
        async with condition:
            await condition.wait_for(lambda: self.active.get(agency, 0) < self.capacity(agency))
            self.active[agency] = self.active.get(agency, 0) + 1

    async def leave(self, agency: str) -> None:
        condition = self._conditions[agency]
        async with condition:
            self.active[agency] -= 1
            # wake only as many of this agency's waiters as may now enter (not every waiter of every agency:
            # with a deep prefetch that was dozens of wake-ups per finished call)
            condition.notify(max(1, self.capacity(agency) - self.active[agency]))
