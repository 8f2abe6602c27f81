"""What the operator configured for callback delivery: how hard and how long to try (`Config`, from
GERBANG_CALLBACK_… settings), and which hosts a callback may go to (`check_url`, the allow-list).

Why apart from the deliverer: the API checks a subscription's URL against the same allow-list when it is
registered, long before anything is delivered.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, fields
from urllib.parse import urlsplit

from core.settings import Settings


@dataclass(frozen=True)
class Config:
    """Delivery rules from settings (see docs/settings.md, GERBANG_CALLBACK_…)."""

    allowed_hosts: tuple[str, ...] = ()
    poll_s: float = 0.2
    retry_base_s: float = 1.0
    retry_max_s: float = 300.0
    max_age_s: float = 86400.0
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 10.0
    max_response_bytes: int = 65536
    lease_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Config:
        """Each rule from its GERBANG_CALLBACK_<RULE> setting (the allow-list's hosts in lower case already)."""
        rules = {rule.name: getattr(settings, f"callback_{rule.name}") for rule in fields(cls)}
        return cls(**{**rules, "allowed_hosts": tuple(settings.callback_allowed_hosts)})

    def backoff(self, attempts: int) -> float:
        """Exponential, capped, with full jitter in its upper half (so receivers coming back are not stampeded)."""
        wait = min(self.retry_base_s * 2 ** max(attempts - 1, 0), self.retry_max_s)
        return wait * random.uniform(0.5, 1.0)


class NotAllowed(ValueError):
    """A callback URL that is not http(s) on an allow-listed host."""


def check_url(url: str, allowed: Sequence[str]) -> None:
    """Only http(s) URLs whose host (or host:port) is on the operator's allow-list (entries in lower case);
    `*.example.go.id` entries allow subdomains. No allow-list means no callbacks at all: nothing is reachable by
    default."""
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError as exc:
        raise NotAllowed(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise NotAllowed("only http and https URLs with a host are allowed")
    if parts.username or parts.password:
        raise NotAllowed("credentials in the URL are not allowed")
    for entry in allowed:
        name, _, entry_port = entry.partition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and str(port or (443 if parts.scheme == "https" else 80)) != entry_port:
            continue
        if host == name or (name.startswith("*.") and host.endswith(name[1:])):
            return
    raise NotAllowed(f"host {host!r} is not on the callback allow-list (GERBANG_CALLBACK_ALLOWED_HOSTS)")
