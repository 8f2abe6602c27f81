"""What counts as text in a request, and where a request holds something that is not.

Not text: control characters other than tab, line feed and carriage return, unpaired surrogates, and the
noncharacters U+FFFE / U+FFFF. None of them is typed by a person; each fails somewhere far from the door if let in
(a NUL in PostgreSQL's text columns, an unpaired surrogate when encoded to UTF-8 or hashed, a control character in
a SOAP agency's XML). core/api/body_limits.py refuses them with 400 `text_invalid`.
"""

from __future__ import annotations

import json
import re
from typing import Any

NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# what may stand for such a character in a JSON body (escaped, or U+FFFE/U+FFFF as UTF-8); a match is confirmed
# on the parsed strings, as an escaped backslash before "u0000" also matches here
_JSON_SUSPECT = re.compile(rb"\\u(?:00[01][0-9a-fA-F]|[dD][89a-fA-F][0-9a-fA-F]{2}|[fF]{3}[eEfF])"
                           rb"|\xef\xbf[\xbe\xbf]")
FORM_CONTROL = re.compile(rb"%(?:0[0-8bBcCeEfF]|1[0-9a-fA-F])")
MULTIPART_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
URLENCODED = b"application/x-www-form-urlencoded"


def json_text_problem(body: bytes) -> str | None:
    """The JSON pointer of the first string (or key) in `body` holding a character that is not text, or None.
    A body that is not JSON is left to its parser to refuse."""
    if not _JSON_SUSPECT.search(body):
        return None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return _first_not_text(document, "")


def _first_not_text(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path or "/" if NOT_TEXT.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}/{key.replace('~', '~0').replace('/', '~1')}"
            if NOT_TEXT.search(key):
                return where
            found = _first_not_text(item, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_not_text(item, f"{path}/{index}")
            if found is not None:
                return found
    return None


def url_text_problem(scope: Scope) -> str | None:
    """"path" or "query" if that part of the URL holds a character that is not text, else None."""
    if NOT_TEXT.search(scope.get("path", "")):
        return "path"
    query = scope.get("query_string", b"")
    if query and (b"%" in query and FORM_CONTROL.search(query) or not query.isascii() and _raw_not_text(query)):
        return "query"
    return None


def _raw_not_text(raw: bytes) -> bool:
    try:
        return bool(NOT_TEXT.search(raw.decode("utf-8")))
    except UnicodeDecodeError:
        return False  # not UTF-8: the router's own decoding answers for it
