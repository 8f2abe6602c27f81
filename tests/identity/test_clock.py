"""The clock's one way of writing a stored time: with its offset, a naive one (SQLite's) taken as UTC."""

from __future__ import annotations

import datetime as dt

from identity.clock import WIB, iso


def test_iso_gives_every_time_its_offset_and_keeps_none() -> None:
    naive = dt.datetime(2026, 1, 2, 3, 4, 5, 123456)  # as SQLite hands a timestamp back
    assert iso(naive) == "2026-01-02T03:04:05.123456+00:00"
    assert iso(naive.replace(tzinfo=WIB)) == "2026-01-02T03:04:05.123456+07:00"  # an aware time keeps its zone
    assert iso(None) is None
