"""The token OSS puts on what it pushes to a region (receiveNIB), from the guide (`@api receiveNIB`, header
`Token: SHA1(USERNAME+PASSWORD+NIB+DATE(Ymd))`): hex SHA-1 [inferred: the guide's example shows the string before
hashing]. One recipe, in one place, with a constant-time check and the day rule.

The token covers one NIB and one day (OSS's clock, WIB), nothing else: it is valid for any body about that NIB that
day. So the receiver must bind what a push may change to the token's NIB (connectors/oss/inbound.py), and accepts
yesterday's token only in the first minutes after midnight WIB, when OSS may have signed just before it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from identity.clock import WIB

TOKEN_HEADER = "Token"
MIDNIGHT_GRACE = dt.timedelta(minutes=10)


def push_token(username: str, password: str, nib: str, day: dt.date) -> str:
    """SHA1 hex of username + password + nib + day as YYYYMMDD (the guide's `date('Ymd')`)."""
    message = f"{username}{password}{nib}{day:%Y%m%d}"
    return hashlib.sha1(message.encode("utf-8")).hexdigest()  # noqa: S324 - the guide's recipe, not our choice


def check_push_token(token: str, username: str, password: str, nib: str, day: dt.date) -> bool:
    """Whether `token` is OSS's token for this NIB on `day` (case-insensitive hex, constant-time compare)."""
    expected = push_token(username, password, nib, day)
    return hmac.compare_digest(expected.encode(), token.strip().lower().encode())


def token_days(now: dt.datetime) -> tuple[dt.date, ...]:
    """The days (WIB) a token may be for at `now`: today, and yesterday in the first minutes after midnight."""
    local = now.astimezone(WIB)
    today = local.date()
    if local - dt.datetime.combine(today, dt.time(), WIB) < MIDNIGHT_GRACE:
        return today, today - dt.timedelta(days=1)
    return (today,)


def token_valid(token: str, username: str, password: str, nib: str, now: dt.datetime) -> bool:
    """OSS's token for `nib` at `now` (see `token_days`); False when any part is missing."""
    if not (token and username and password and nib):
        return False
    return any(check_push_token(token, username, password, nib, day) for day in token_days(now))
