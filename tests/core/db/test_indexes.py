"""The migrations create every index the table models declare (the queries were written against the models)."""

from __future__ import annotations

from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

import core.audit.models  # noqa: F401  (every room's tables, as alembic's environment loads them)
import core.bus.models  # noqa: F401
import core.callbacks.models  # noqa: F401
import core.console.models  # noqa: F401
import core.db.models  # noqa: F401
import core.security.models  # noqa: F401


def test_every_declared_index_exists_after_the_migrations(engine: Engine) -> None:
    found = inspect(engine)
    missing = []
    for table in SQLModel.metadata.sorted_tables:
        existing = {(i["name"], tuple(i["column_names"])) for i in found.get_indexes(table.name)}
        for index in table.indexes:
            if (index.name, tuple(c.name for c in index.columns)) not in existing:
                missing.append(f"{table.name}.{index.name}")
    assert missing == []
    assert ("ix_application_agency_reference", ("agency", "agency_reference")) in {
        (i["name"], tuple(i["column_names"])) for i in found.get_indexes("application")
    }
