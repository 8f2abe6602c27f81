"""Group commit for audit entries written on the request path.

A citizen read must be in the log before its answer leaves the API, but one transaction per read makes the
commit, not the read, the cost of a lookup. Concurrent requests therefore hand their (already checked) entries to
one writer (core/db/group_commit.py): every caller waits for the commit that holds its entry — durable before the
response, with one multi-row insert and one commit per batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from core.audit.log import insert_prepared
from core.db.group_commit import GroupCommit

MAX_BATCH = 1000


def audit_writer(sessions: Callable[[], Session], max_batch: int = MAX_BATCH) -> GroupCommit[dict[str, Any], None]:
    """Shares transactions between concurrent `submit(row)` calls; rows come from `core.audit.log.prepare`."""

    def commit(rows: list[dict[str, Any]]) -> list[None]:
        with sessions() as session:
            insert_prepared(session, rows)
            session.commit()
        return [None] * len(rows)

    return GroupCommit(commit, max_batch)
