"""Tables. Schema changes go through alembic migrations in `core/db/migrations/versions/`, never `create_all`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, LargeBinary, text
from sqlmodel import Field, SQLModel

from identity.clock import utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite only autoincrements INTEGER PRIMARY KEY


def timestamp(**kwargs: Any) -> Any:
    """A timezone-aware timestamp column (SQLite stores the offset as text, PostgreSQL as timestamptz)."""
    return Field(sa_column=Column(DateTime(timezone=True), **kwargs))


def unsent_index(name: str, column: str) -> Index:
    """A partial index of the rows not handed on yet (`column` IS NULL), in id order: what an outbox poll reads,
    whatever the size of the table behind it."""
    return Index(name, "id", postgresql_where=text(f"{column} IS NULL"), sqlite_where=text(f"{column} IS NULL"))


class Client(SQLModel, table=True):
    """A caller of the API: a counter application, an auditor, an agency or an operator."""

    __tablename__ = "client"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=100)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    purposes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    disabled: bool = Field(default=False)
    created_at: dt.datetime = timestamp(nullable=False, default=utcnow)
    # Issue 7 (migration 0005): what kind of caller, the agreement (PKS) it acts under, its own rate limit.
    kind: str = Field(default="counter", max_length=16)
    agreement: str | None = Field(default=None, max_length=100)
    agreement_from: dt.date | None = Field(default=None)
    agreement_to: dt.date | None = Field(default=None)
    rate_per_s: float | None = Field(default=None)
    rate_burst: int | None = Field(default=None)


class ApiKey(SQLModel, table=True):
    """One API key of a client, stored only as its SHA-256 hash (keys are 256-bit random, so a plain hash is
    enough and lets the lookup be one index probe); `key_id` is a short public prefix for operators to tell keys
    apart."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    client_id: int = Field(foreign_key="client.id", index=True)
    key_id: str = Field(index=True, max_length=32)
    key_hash: str = Field(unique=True, max_length=64)
    created_at: dt.datetime = timestamp(nullable=False, default=utcnow)
    revoked_at: dt.datetime | None = timestamp(nullable=True)


class FacetCacheRow(SQLModel, table=True):
    """One cached facet: opaque keyed-hash key, ciphertext, freshness (see identity/cache.py)."""

    __tablename__ = "facet_cache"

    key: str = Field(primary_key=True, max_length=64)
    facet: str = Field(max_length=64)
    agency: str = Field(max_length=64)
    key_id: str = Field(max_length=32)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    fetched_at: dt.datetime = timestamp(nullable=False)
    expires_at: dt.datetime = timestamp(nullable=False, index=True)
