"""The token OSS puts on the requests it pushes to us (receiveNIB, receiveLicenseStatus …), from the public guide:
`Token: SHA1(username + password + nib + date as Ymd)`, hex. The inbound endpoint itself is a later issue; this
is the recipe, in one place, with a constant-time check.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

TOKEN_HEADER = "Token"


def push_token(username: str, password: str, nib: str, day: dt.date) -> str:
    """SHA1 hex of username + password + nib + day as YYYYMMDD (the guide's `date('Ymd')`)."""
    message = f"{username}{password}{nib}{day:%Y%m%d}"
    return hashlib.sha1(message.encode("utf-8")).hexdigest()  # noqa: S324 - the guide's recipe, not our choice


def check_push_token(token: str, username: str, password: str, nib: str, day: dt.date) -> bool:
    """Whether `token` is OSS's token for this NIB on `day` (case-insensitive hex, constant-time compare).

    Callers near midnight may also try the previous day: OSS computes the date on its own clock (WIB)."""
    expected = push_token(username, password, nib, day)
    return hmac.compare_digest(expected.encode(), token.strip().lower().encode())
