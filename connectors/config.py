"""Reading a connector's settings (`GERBANG_AGENCY_<NAME>_<KEY>`, keys lower-case) the same way in every connector.

A missing or malformed setting is a ValueError naming what to set, raised when the client is built: a misconfigured
deployment fails at start-up, not at a citizen's first lookup. Messages name the setting and never repeat a
required value (it may be a password or key).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

DEFAULT_TIMEOUT_S = 5.0
JSON_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
"""A key of a request body a deployment names in a setting (Dukcapil's `key_nik`, Samsat's `key_plate` …)."""


def env_var(agency: str, key: str) -> str:
    """The environment variable behind one setting: ("oss", "user_key") → GERBANG_AGENCY_OSS_USER_KEY."""
    return f"GERBANG_AGENCY_{agency.upper()}_{key.upper()}"


def _blank(value: Any) -> bool:
    return value is None or str(value).strip() == ""


def required(config: Mapping[str, Any], agency: str, key: str) -> str:
    """A required setting, stripped; blank or absent is a ValueError naming the environment variable."""
    value = config.get(key)
    if _blank(value):
        raise ValueError(f"{agency}: setting {key!r} is missing ({env_var(agency, key)})")
    return str(value).strip()


def require_all(config: Mapping[str, Any], agency: str, keys: Iterable[str]) -> None:
    """Check several required settings at once, so one error lists every one that is missing."""
    missing = [key for key in keys if _blank(config.get(key))]
    if missing:
        names = ", ".join(env_var(agency, key) for key in missing)
        raise ValueError(f"{agency}: missing setting(s) {', '.join(missing)} (set {names})")


def timeout_s(
    config: Mapping[str, Any], agency: str, default: float = DEFAULT_TIMEOUT_S, *, maximum: float | None = None
) -> float:
    """The optional `timeout_s` setting: seconds, positive (and at most `maximum` if given); unset → `default`."""
    raw = config.get("timeout_s")
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{agency}: timeout_s must be a number of seconds, not {raw!r}") from None
    if not value > 0:  # also refuses NaN
        raise ValueError(f"{agency}: timeout_s must be positive")
    if maximum is not None and value > maximum:
        raise ValueError(f"{agency}: timeout_s must be at most {maximum:g} seconds")
    return value


def name_setting(config: Mapping[str, Any], agency: str, key: str, default: str, pattern: re.Pattern[str]) -> str:
    """An optional name-like setting (a URL path or segment, a body key, an XML operation or element): `default`
    when unset; when set, stripped and wholly matching `pattern`, and never dots alone or `..` (a path must not
    climb), else a ValueError naming the setting."""
    raw = config.get(key)
    if _blank(raw):
        return default
    value = str(raw).strip()
    if not pattern.fullmatch(value) or ".." in value or not value.strip("."):
        raise ValueError(f"{agency}: setting {key} must match {pattern.pattern}, not {value[:40]!r}")
    return value
