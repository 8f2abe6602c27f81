"""Database access: engine from settings, table models, alembic migrations."""

from core.db.engine import make_engine, session_factory, upgrade

__all__ = ["make_engine", "session_factory", "upgrade"]
