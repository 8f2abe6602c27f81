"""The clock's one way of writing a stored time (with its offset, a naive one — SQLite's — taken as UTC) and of
naming the agencies' day (WIB)."""

from __future__ import annotations

import datetime as dt

from identity.clock import WIB, iso, today_wib, utcnow


def test_iso_gives_every_time_its_offset_and_keeps_none() -> None:
    naive = dt.datetime(2026, 1, 2, 3, 4, 5, 123456)  # as SQLite hands a timestamp back
    assert iso(naive) == "2026-01-02T03:04:05.123456+00:00"
    assert iso(naive.replace(tzinfo=WIB)) == "2026-01-02T03:04:05.123456+07:00"  # an aware time keeps its zone
    assert iso(None) is None


def test_today_wib_turns_at_midnight_in_jakarta_not_greenwich() -> None:
    """The agencies' day: 16:59 UTC is still that day in Jakarta, 17:00 UTC is the next (UTC+7)."""
    assert today_wib(dt.datetime(2026, 1, 1, 16, 59, 59, tzinfo=dt.UTC)) == dt.date(2026, 1, 1)
    assert today_wib(dt.datetime(2026, 1, 1, 17, 0, tzinfo=dt.UTC)) == dt.date(2026, 1, 2)
    assert today_wib(dt.datetime(2026, 1, 1, 17, 0)) == dt.date(2026, 1, 2)  # naive is UTC, as iso reads it
    assert today_wib(dt.datetime(2026, 1, 2, 0, 30, tzinfo=WIB)) == dt.date(2026, 1, 2)
    before, day, after = utcnow(), today_wib(), utcnow()  # unset: this moment
    assert day in {today_wib(before), today_wib(after)} and day in {(before + dt.timedelta(hours=7)).date(),
                                                                   (after + dt.timedelta(hours=7)).date()}
