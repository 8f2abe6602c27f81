"""When a vehicle's annual tax (PKB) falls due: every year on the anniversary of its first registration.

The rule's one home: the plug-in's schema example (connectors/samsat/__init__.py) names the tax year a counter can
pay today, and the simulator's vehicles (simdata.py) fall due by it.
"""

from __future__ import annotations

import datetime as dt

GRACE = dt.timedelta(days=60)
"""How long after its due date a year's PKB is still the one to pay (later, next year's is)."""


def on_anniversary(year: int, anniversary: tuple[int, int]) -> dt.date:
    """The anniversary (month, day) in `year`; in February at most the 28th, so every year has it."""
    month, day = anniversary
    return dt.date(year, month, min(day, 28) if month == 2 else day)


def next_due(today: dt.date, anniversary: tuple[int, int]) -> dt.date:
    """The due date a vehicle without arrears pays on `today`: this year's, unless it passed more than GRACE ago
    (then next year's)."""
    due = on_anniversary(today.year, anniversary)
    return due if due >= today - GRACE else on_anniversary(today.year + 1, anniversary)
