"""Console sessions: a signed, expiring cookie instead of the API key, and a CSRF token bound to it.

Why signed and stateless: any API process may answer the next request, so the token is an HMAC over its contents
with a key every process derives the same way from the bus's shared NIK hash key (domain-separated, so the cookie
says nothing about that key). The token names the API key by its SHA-256 (what the database stores; useless as a
bearer key), so every request re-checks the key through the principal cache: a revoked key or a disabled client
ends the session within the cache's lifetime. Logging out deletes the cookie and records the session's nonce as
ended (`end`), so every process refuses a copy of that cookie too (`ended`), until it would have expired anyway.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets as random
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from core.api.auth import lookup_principal
from core.api.state import AppState
from core.console.models import logout_table
from core.security.clients import Principal, authenticate_digest
from core.security.keys import hash_key

COOKIE = "gerbang_console"
LIFETIME_S = 8 * 3600
"""A working shift: long enough not to interrupt, short enough that a forgotten browser does not stay in."""
KEY_LABEL = b"gerbang/console-session/v1"


def session_key(secrets: Any) -> bytes:
    """The MAC key of console tokens, derived from the bus secrets (the same in every process of a deployment)."""
    return hmac.new(secrets.nik_hash_key, KEY_LABEL, hashlib.sha256).digest()


@dataclass(frozen=True)
class ConsoleSession:
    digest: str  # SHA-256 of the API key that logged in
    nonce: str  # random per login; the CSRF token is derived from it
    expires: int  # unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: bytes, data: bytes) -> bytes:
    return hmac.new(key, purpose + b"\0" + data, hashlib.sha256).digest()


def issue(key: bytes, digest: str, now: float | None = None, lifetime_s: int = LIFETIME_S) -> str:
    """A new session token for the API key with hash `digest`."""
    expires = int((now if now is not None else time.time()) + lifetime_s)
    body = json.dumps({"k": digest, "n": random.token_urlsafe(16), "e": expires}, separators=(",", ":")).encode()
    return f"{_b64(body)}.{_b64(_mac(key, b'session', body))}"


def read(key: bytes, token: str | None, now: float | None = None) -> ConsoleSession | None:
    """The session in `token`, or None if it is missing, forged, malformed or expired."""
    if not token or len(token) > 1000 or token.count(".") != 1:
        return None
    body_part, mac_part = token.split(".")
    try:
        body, mac = _unb64(body_part), _unb64(mac_part)
    except ValueError:
        return None
    if not hmac.compare_digest(mac, _mac(key, b"session", body)):
        return None
    try:
        fields = json.loads(body)
        session = ConsoleSession(str(fields["k"]), str(fields["n"]), int(fields["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    if session.expires <= (now if now is not None else time.time()):
        return None
    return session


def csrf_token(key: bytes, session: ConsoleSession) -> str:
    """The token every state-changing form of this session carries."""
    return _b64(_mac(key, b"csrf", session.nonce.encode()))


def csrf_ok(key: bytes, session: ConsoleSession, supplied: str | None) -> bool:
    return bool(supplied) and hmac.compare_digest(csrf_token(key, session), supplied or "")


def lookup_digest(sessions: Any, digest: str) -> Principal | None:
    """As `core.security.clients.authenticate`, from the key's hash: None when unknown, revoked or disabled."""
    with sessions() as session:
        return authenticate_digest(session, digest)


async def principal_by_digest(state: AppState, digest: str) -> Principal | None:
    """The principal behind a session, through the API's short-lived principal cache (same keys: key hashes)."""
    hit, principal = state.principals.get(digest)
    if not hit:
        principal = await asyncio.to_thread(lookup_digest, state.sessions, digest)
        state.principals.put(digest, principal)
    return principal


async def principal_by_key(state: AppState, key: str) -> tuple[str, Principal | None]:
    """(key hash, principal) for a key typed at the login form, exactly as bearer authentication finds it."""
    digest = hash_key(key)
    hit, principal = state.principals.get(digest)
    if not hit:
        principal = await asyncio.to_thread(lookup_principal, state.sessions, key)
        state.principals.put(digest, principal)
    return digest, principal


def end(sessions: Any, session: ConsoleSession, now: float | None = None) -> None:
    """Record `session` as logged out (idempotent); rows of sessions that have expired meanwhile go at the same
    time, so the table holds at most a shift's logouts."""
    now_s = int(now if now is not None else time.time())
    with sessions() as db:
        db.execute(delete(logout_table).where(logout_table.c.expires_s <= now_s))
        try:
            db.execute(insert(logout_table).values(nonce=session.nonce, expires_s=session.expires))
            db.commit()
        except IntegrityError:  # logged out twice (two tabs): it is ended already
            db.rollback()


def ended(sessions: Any, session: ConsoleSession) -> bool:
    """Whether `session` was logged out (by any process)."""
    with sessions() as db:
        found = db.execute(select(logout_table.c.nonce).where(logout_table.c.nonce == session.nonce)).first()
    return found is not None
