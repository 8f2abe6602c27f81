"""Tables of the security layer (migration 0005), shared by every API and worker process.

`rate_bucket`: one token bucket per client (tokens, last refill as epoch seconds); processes lease tokens from it
in batches, so a request costs no database write (core/security/ratelimit.py). `bus_process`: a heartbeat per
running process; each process divides the per-agency concurrency limits by the number of live processes
(core/security/concurrency.py). Core tables (not SQLModel): they are only touched with plain statements.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, String, Table
from sqlmodel import SQLModel

metadata = SQLModel.metadata

rate_bucket_table = Table(
    "rate_bucket",
    metadata,
    Column("name", String(120), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_s", Float, nullable=False),
)

process_table = Table(
    "bus_process",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("started_s", Float, nullable=False),
    Column("seen_s", Float, nullable=False, index=True),
    Column("pid", Integer, nullable=False),
    Column("host", String(100), nullable=False),
)
