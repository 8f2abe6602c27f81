"""The clock every part of Gerbang reads, and the Indonesian (WIB) time zone the agencies count days in.

One home, so a timestamp is always timezone-aware: `utcnow()` for now, `as_utc()` for a value read back from a
database that drops the zone (SQLite) and `iso()` for it as text, `WIB` for the agencies' calendar (Asia/Jakarta,
UTC+7, no daylight saving) and `today_wib()` for the day on it.
"""

from __future__ import annotations

import datetime as dt
from typing import overload

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")


def utcnow() -> dt.datetime:
    """Timezone-aware now, so every timestamp Gerbang emits carries its offset."""
    return dt.datetime.now(dt.UTC)


@overload
def as_utc(value: dt.datetime) -> dt.datetime: ...


@overload
def as_utc(value: None) -> None: ...


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    """`value` with its zone; a naive one (SQLite keeps no zone) is taken as UTC, as Gerbang wrote it."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


@overload
def iso(value: dt.datetime) -> str: ...


@overload
def iso(value: dt.datetime | None) -> str | None: ...


def iso(value: dt.datetime | None) -> str | None:
    """`value` as ISO 8601 with its offset (a naive one taken as UTC, as `as_utc`), or None: how a stored time
    goes out in an answer, a message or a listing."""
    return None if value is None else as_utc(value).isoformat()


def today_wib(now: dt.datetime | None = None) -> dt.date:
    """The agencies' calendar day (WIB) at `now` (default this moment; a naive one taken as UTC, as `as_utc`): a
    day that turns at midnight in Jakarta, seven hours before it turns in UTC."""
    return as_utc(now or utcnow()).astimezone(WIB).date()
