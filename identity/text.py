"""What counts as text, for the API's door (core/api/text_checks.py) and the SOAP connectors alike.

Not text: control characters other than tab, line feed and carriage return, unpaired surrogates, and the
noncharacters U+FFFE / U+FFFF. None is typed by a person, and these are exactly what XML 1.0 cannot carry, what
UTF-8 cannot encode, or (NUL) what PostgreSQL's text columns refuse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def first_not_text(value: Any, path: str = "") -> str | None:
    """The JSON pointer of the first string (or key) in `value` holding a character that is not text ("/" for
    `value` itself), or None."""
    if isinstance(value, str):
        return path or "/" if NOT_TEXT.search(value) else None
    items = value.items() if isinstance(value, Mapping) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        where = f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"
        if isinstance(key, str) and NOT_TEXT.search(key):
            return where
        found = first_not_text(item, where)
        if found is not None:
            return found
    return None
