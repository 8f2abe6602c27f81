"""WS-Security UsernameToken checks of a SOAP simulator: PasswordText or PasswordDigest with nonce and created,
replayed nonces and stale timestamps refused, faults with the WS-Security 1.1 QNames (`wsse:FailedAuthentication`, …).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import threading
from collections.abc import Mapping

from lxml import etree

from connectors.simkit.envelope import WSSE, SoapFault
from identity.clock import as_utc

WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_TEXT = "#PasswordText"
PASSWORD_DIGEST = "#PasswordDigest"
MAX_SKEW_S = 300


def auth_fault(kind: str = "FailedAuthentication", message: str | None = None) -> SoapFault:
    """A WS-Security fault; the messages are the ones the WSS 1.1 specification gives."""
    messages = {
        "FailedAuthentication": "The security token could not be authenticated or authorized",
        "InvalidSecurity": "An error was discovered processing the <wsse:Security> header",
        "InvalidSecurityToken": "An invalid security token was provided",
        "MessageExpired": "The message has expired",
    }
    return SoapFault(f"wsse:{kind}", message or messages.get(kind, "Security error"))


class NonceCache:
    """Nonces seen within the freshness window, so a captured digest cannot be replayed."""

    def __init__(self, window_s: int = MAX_SKEW_S, limit: int = 100_000):
        self.window_s, self.limit = window_s, limit
        self._seen: dict[str, dt.datetime] = {}
        self._lock = threading.Lock()

    def first_use(self, nonce: str, now: dt.datetime) -> bool:
        with self._lock:
            if len(self._seen) > self.limit:
                cutoff = now - dt.timedelta(seconds=2 * self.window_s)
                self._seen = {k: v for k, v in self._seen.items() if v > cutoff}
            if nonce in self._seen:
                return False
            self._seen[nonce] = now
            return True


def parse_created(value: str) -> dt.datetime:
    """An xsd:dateTime timestamp (`Z` or offset); naive values are taken as UTC."""
    stamp = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return as_utc(stamp)


def authenticate(
    header: etree._Element | None, users: Mapping[str, str], nonces: NonceCache, *, now: dt.datetime | None = None
) -> str:
    """Check the UsernameToken in the Security header; returns the user name or raises a wsse fault."""
    security = header.find(f"{{{WSSE}}}Security") if header is not None else None
    if security is None:
        raise auth_fault("InvalidSecurity", "header wsse:Security tidak ada")
    token = security.find(f"{{{WSSE}}}UsernameToken")
    if token is None:
        raise auth_fault("InvalidSecurityToken", "wsse:UsernameToken tidak ada")
    username = (token.findtext(f"{{{WSSE}}}Username") or "").strip()
    password_el = token.find(f"{{{WSSE}}}Password")
    if not username or password_el is None:
        raise auth_fault("InvalidSecurityToken")
    supplied = (password_el.text or "").strip()
    kind = password_el.get("Type") or PASSWORD_TEXT
    expected = users.get(username)
    if kind.endswith(PASSWORD_TEXT):
        ok = expected is not None and hmac.compare_digest(supplied.encode(), expected.encode())
    elif kind.endswith(PASSWORD_DIGEST):
        ok = _digest_ok(token, supplied, expected, nonces, now or dt.datetime.now(dt.UTC))
    else:
        raise auth_fault("UnsupportedSecurityToken", "jenis password tidak didukung")
    if not ok:
        raise auth_fault("FailedAuthentication")
    return username


def _digest_ok(
    token: etree._Element, supplied: str, expected: str | None, nonces: NonceCache, now: dt.datetime
) -> bool:
    nonce_b64 = (token.findtext(f"{{{WSSE}}}Nonce") or "").strip()
    created = (token.findtext(f"{{{WSU}}}Created") or "").strip()
    if not nonce_b64 or not created:
        raise auth_fault("InvalidSecurityToken", "PasswordDigest memerlukan Nonce dan Created")
    try:
        nonce = base64.b64decode(nonce_b64, validate=True)
        stamp = parse_created(created)
    except ValueError:
        raise auth_fault("InvalidSecurityToken", "Nonce atau Created tidak valid") from None
    if abs((now - stamp).total_seconds()) > MAX_SKEW_S:
        raise auth_fault("MessageExpired")
    if expected is None:
        return False
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + expected.encode()).digest()).decode()
    if not hmac.compare_digest(digest, supplied):
        return False
    if not nonces.first_use(nonce_b64, now):
        raise auth_fault("FailedAuthentication", "nonce sudah pernah dipakai")
    return True
