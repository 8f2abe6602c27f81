"""Where a request holds something that is not text (identity/text.py says what that is): the JSON body,
a form, the path, the query string. core/api/body_limits.py refuses it with 400 `text_invalid`; let in, each
fails far from the door (a NUL in PostgreSQL's text columns, an unpaired surrogate when encoded to UTF-8 or
hashed, a control character in a SOAP agency's XML).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from identity.text import NOT_TEXT, first_not_text

# what may stand for such a character in a JSON body (escaped, or U+FFFE/U+FFFF as UTF-8); a match is confirmed
# on the parsed strings, as an escaped backslash before "u0000" also matches here
_JSON_SUSPECT = re.compile(
    rb"\\u(?:00[01][0-9a-fA-F]|[dD][89a-fA-F][0-9a-fA-F]{2}|[fF]{3}[eEfF])"
    rb"|\xef\xbf[\xbe\xbf]"
)
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
    return first_not_text(document)


def url_text_problem(scope: Mapping[str, Any]) -> str | None:
    """ "path" or "query" if that part of the URL holds a character that is not text, else None."""
    if NOT_TEXT.search(scope.get("path", "")):
        return "path"
    query = scope.get("query_string", b"")
    if query and (
        b"%" in query
        and (FORM_CONTROL.search(query) or _raw_not_text(unquote_to_bytes(query)))
        or not query.isascii()
        and _raw_not_text(query)
    ):
        return "query"
    return None


def _raw_not_text(raw: bytes) -> bool:
    try:
        return bool(NOT_TEXT.search(raw.decode("utf-8")))
    except UnicodeDecodeError:
        return False  # not UTF-8: the router's own decoding answers for it
