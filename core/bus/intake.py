"""Group commit for `POST /v1/applications`: concurrent accepts share one transaction (core/db/group_commit.py).

Why: an accept is a handful of small inserts and a commit; under load the commit (and the round trips around it)
cost more than the work. The first request starts a commit at once, the requests arriving meanwhile gather and go
together in the next — no added wait when the API is idle, one commit for many when it is busy. Each caller still
gets its own answer only after the commit that holds its application (and outbox row, history, audit entry,
event) — the 202 stays a promise — and its own error: a batch that cannot commit as a whole is accepted request by
request (core/bus/service.py: `accept_many`).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from core.bus.service import Accepted, Submission, accept_many
from core.bus.states import Policy
from core.db.group_commit import GroupCommit
from core.security.secrets import BusSecrets

MAX_BATCH = 200
Intake = GroupCommit[Submission, Accepted]


def intake(sessions: Callable[[], Session], secrets: BusSecrets, policy: Policy) -> Intake:
    """`submit(submission)` answers the stored application (or the one this key made before); raises
    IdempotencyConflict etc."""

    def store(items: list[Submission]) -> list[Accepted | BaseException]:
        with sessions() as session:
            return accept_many(session, secrets, policy, items)

    return GroupCommit(store, MAX_BATCH)
