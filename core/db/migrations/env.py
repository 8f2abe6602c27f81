"""Alembic environment: runs the packaged migrations against the URL given in the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool
from sqlmodel import SQLModel

import core.audit.models  # noqa: F401  (audit tables)
import core.bus.models  # noqa: F401  (applications, outbox, inbox)
import core.callbacks.models  # noqa: F401  (callback subscriptions, events, batches)
import core.console.models  # noqa: F401  (console sessions ended by logging out)
import core.db.models  # noqa: F401  (registers the tables on SQLModel.metadata)
import core.security.models  # noqa: F401  (rate buckets, process census)
from core.db.engine import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
