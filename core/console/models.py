"""Console sessions ended by logging out (migration 0007), shared by every API process.

A console session is a signed cookie that any process can check on its own (core/console/session.py); logging out
records the session's nonce here until the session would have expired anyway, so a copy of the cookie (another
tab, a stolen one) is refused everywhere from then on. Core table: only touched with plain statements.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, String, Table
from sqlmodel import SQLModel

logout_table = Table(
    "console_logout",
    SQLModel.metadata,
    Column("nonce", String(64), primary_key=True),
    Column("expires_s", BigInteger, nullable=False, index=True),
)
