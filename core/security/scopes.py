"""Scopes a client may hold, and how a granted scope satisfies a required one.

Scopes are colon-separated (`citizen:read:identity`, `application:submit:<agency>`, `audit:read`,
`callbacks:pull:<agency>`, `admin`). A
granted scope ending in `:*` covers everything below it (`citizen:read:*`); `admin` covers only admin endpoints.
"""

from __future__ import annotations

from collections.abc import Iterable

KNOWN_ROOTS = (
    "citizen:read",
    "citizen:verify",
    "application:submit",
    "application:read",
    "audit:read",
    "subjects:history",
    "callbacks:pull",
    "admin",
)


def covers(granted: str, required: str) -> bool:
    """True if the granted scope satisfies the required one."""
    if granted == required:
        return True
    if granted.endswith(":*"):
        return required.startswith(granted[:-1])
    return False


def allowed(granted: Iterable[str], required: str) -> bool:
    """True if any granted scope satisfies `required`."""
    return any(covers(g, required) for g in granted)


def validate_scope(scope: str) -> str:
    """Reject a scope that no endpoint could ever require (catches typos at `clients add`)."""
    if scope == "*":
        raise ValueError("a bare '*' scope is not allowed; grant scopes explicitly")
    root = scope[:-2] if scope.endswith(":*") else scope
    if not any(root == known or root.startswith(known + ":") or known.startswith(root + ":") for known in KNOWN_ROOTS):
        raise ValueError(f"unknown scope {scope!r}; scopes start with one of: {', '.join(KNOWN_ROOTS)}")
    return scope
