"""Reading the log's entries by what they are about: the one query behind an auditor's filtered list and a
citizen's access history (core/api/audit.py). Proofs and checkpoints are core/audit/store.py's."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from core.audit.models import entry_table


def entries_page(
    conn: Connection,
    size: int,
    *,
    limit: int,
    after: int = -1,
    subject: str | None = None,
    client: str | None = None,
    agency: str | None = None,
    action: str | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
) -> tuple[list[Any], bool]:
    """Entries (leaf_index, data) of the tree of `size` entries after index `after`, oldest first, at most `limit`,
    matching every filter given (`action` exact, or a prefix ending in `.*`); and whether more follow."""
    e = entry_table.c
    query = select(e.leaf_index, e.data).where(e.leaf_index < size, e.leaf_index > after)
    for column, value in ((e.subject, subject), (e.client, client), (e.agency, agency)):
        if value is not None:
            query = query.where(column == value)
    if action is not None:
        exact = not action.endswith(".*")
        query = query.where(e.action == action if exact else e.action.startswith(action[:-1], autoescape=True))
    if since_us is not None:
        query = query.where(e.time_us >= since_us)
    if until_us is not None:
        query = query.where(e.time_us < until_us)
    rows = list(conn.execute(query.order_by(e.leaf_index).limit(limit + 1)).all())
    return rows[:limit], len(rows) > limit
