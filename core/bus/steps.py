"""The database steps of an attempt (`begin`, `finish`) as seen from the event loop: gathered into micro-batches
(core/db/group_commit.py), in the API's embedded dispatcher and in `gerbang worker` alike.

Why batches: under load a worker has dozens of attempts starting and ending at once, each `begin` and `finish` a
transaction of its own; gathered, they cost one checkout and one commit per batch and SQLAlchemy sends
same-shaped statements together. A batch that fails is retried message by message (core/bus/claim.py
`begin_many`, core/bus/finish.py `finish_many`), so a bad message never takes others down with it.
"""

from __future__ import annotations

from core.bus.agency_call import Outcome
from core.bus.claim import Skip, Work, begin_many
from core.bus.finish import finish_many
from core.bus.message import Message
from core.bus.states import Policy
from core.db.engine import Sessions
from core.db.group_commit import GroupCommit
from core.security.secrets import BusSecrets


class BatchedSteps:
    """`begin` and `finish`, each gathered with the concurrent ones into a micro-batch: one transaction (on a
    thread) per batch."""

    def __init__(
        self, sessions: Sessions, secrets: BusSecrets, policy: Policy, *, max_size: int = 64, linger_s: float = 0.015
    ):
        self.sessions, self.secrets, self.policy = sessions, secrets, policy
        self._begins: GroupCommit[Message, Work | Skip] = GroupCommit(
            self._begin_many, max_size, linger_s, max_inflight=2
        )
        self._finishes: GroupCommit[tuple[Message | None, Work, Outcome], str] = GroupCommit(
            self._finish_many, max_size, linger_s, max_inflight=2
        )

    async def begin(self, message: Message) -> Work | Skip:
        return await self._begins.submit(message)

    async def finish(self, message: Message | None, work: Work, outcome: Outcome) -> str:
        return await self._finishes.submit((message, work, outcome))

    def _begin_many(self, messages: list[Message]) -> list[Work | Skip | BaseException]:
        with self.sessions() as session:
            return begin_many(session, messages, self.secrets, self.policy)

    def _finish_many(self, items: list[tuple[Message | None, Work, Outcome]]) -> list[str | BaseException]:
        with self.sessions() as session:
            return finish_many(session, items, self.secrets, self.policy)
