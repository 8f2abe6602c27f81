"""connectors/samsat/tax_calendar.py: the PKB falls due on the registration's anniversary, and a year's tax is the
one to pay until 60 days past it; the plug-in's example and the simulator's vehicles follow that one rule."""

from __future__ import annotations

import datetime as dt

from connectors.samsat import PKB_PAYMENT_SCHEMA
from connectors.samsat.simdata import Vehicle
from connectors.samsat.tax_calendar import next_due, on_anniversary
from identity.clock import today_wib


def test_february_anniversaries_fall_on_the_28th_at_most() -> None:
    assert on_anniversary(2024, (2, 29)) == on_anniversary(2023, (2, 29)).replace(year=2024) == dt.date(2024, 2, 28)
    assert on_anniversary(2025, (10, 25)) == dt.date(2025, 10, 25)


def test_this_years_tax_is_due_until_sixty_days_past_the_anniversary() -> None:
    assert next_due(dt.date(2025, 3, 1), (10, 25)) == dt.date(2025, 10, 25)
    assert next_due(dt.date(2025, 12, 24), (10, 25)) == dt.date(2025, 10, 25)  # 60 days past: still this year's
    assert next_due(dt.date(2025, 12, 25), (10, 25)) == dt.date(2026, 10, 25)


def test_the_example_and_the_simulator_follow_the_same_rule() -> None:
    vehicle = Vehicle("B", "3538", "YG", "R2", "HONDA", "BEAT", 2015, "HITAM", (10, 25), 0, 190_000)
    assert PKB_PAYMENT_SCHEMA["examples"][0]["year"] == vehicle.pkb_due(today_wib()).year
    in_arrears = Vehicle("B", "1", "A", "R2", "HONDA", "BEAT", 2015, "HITAM", (10, 25), 1, 190_000)
    assert in_arrears.pkb_due(dt.date(2025, 3, 1)) == dt.date(2024, 10, 25)
