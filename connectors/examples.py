"""Dates for the `examples` of agency payload schemas.

An example a counter can send today must name days the agency accepts today (an appointment ahead, a start date
near now), so those fields are computed when the schema is loaded, on the Indonesian (WIB) calendar the agencies
keep. Everything else in an example is a literal from the demo's synthetic population (`gerbang demo`, seed 2024),
which its simulators accept.
"""

from __future__ import annotations

import datetime as dt

from identity.clock import today_wib


def working_day(after_days: int, start: dt.date | None = None) -> dt.date:
    """The first Monday–Friday at least `after_days` after `start` (default today)."""
    day = (start or today_wib()) + dt.timedelta(days=after_days)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day
