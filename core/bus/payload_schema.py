"""The JSON Schema check of application payloads, as strict as the agencies' own systems read them.

Why not jsonschema as it comes: (1) it runs `pattern` through Python's `re.search`, whose `$` also matches before
a final newline, so `"number": "9948380000000\\n"` passed `^[0-9]{13}$` and reached the agency; JSON Schema means
ECMA-262 regular expressions, where `$` is the end of the string. (2) JSON Schema counts 2024.0 as an integer,
but it is sent on as a float, which agencies' systems refuse (a tax office rejected `"year": 2024.0` after the 202);
here an integer must be written as one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from jsonschema import FormatChecker, ValidationError, validators
from jsonschema.validators import validator_for


@lru_cache(maxsize=512)
def ecma_pattern(pattern: str) -> re.Pattern[str]:
    """`pattern` compiled as ECMA-262 reads it: every unescaped `$` outside a character class becomes `\\Z`, and
    `\\d` / `\\w` are ASCII (Python's would take "١" or "１" as a digit)."""
    out: list[str] = []
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            out.append(r"\Z")
            continue
        out.append(char)
    return re.compile("".join(out), re.ASCII)


# Longest string any `pattern` is matched against. Python's regular expressions backtrack, and a pattern with
# adjacent optional parts (a plate: ` *[0-9]{1,4} *[A-Za-z]{0,3} *$`) takes quadratic time on a long run of
# spaces; under this length the worst agency pattern stays under a millisecond (tests/core/security/test_regex_time.py).
PATTERN_INPUT_MAX = 1024


def _pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    """ECMA `pattern`, not run on a string longer than the schema's `maxLength`: that is already an error, and a
    pattern with several `*` took seconds over a 48 KB string (every agency pattern has a maxLength)."""
    if not validator.is_type(instance, "string"):
        return
    if isinstance(schema.get("maxLength"), int) and len(instance) > schema["maxLength"]:
        return
    if len(instance) > PATTERN_INPUT_MAX:  # a schema without maxLength (an out-of-tree connector's) is bounded too
        yield ValidationError(f"longer than the {PATTERN_INPUT_MAX} characters a patterned value may have")
    elif not ecma_pattern(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


@lru_cache(maxsize=256)
def validator_of(schema_json: str) -> Any:
    """A validator for the schema (given as its JSON text, the cache key), checked once."""
    schema = json.loads(schema_json)
    base = validator_for(schema)
    base.check_schema(schema)
    strict = validators.extend(
        base, validators={"pattern": _pattern}, type_checker=base.TYPE_CHECKER.redefine("integer", _integer)
    )
    return strict(schema, format_checker=FormatChecker())
