"""The counter context every citizen read, verification and submission carries: who at which desk of which MPP.

The X-Road "user id" analogue: the API key says which application calls, these headers say on whose behalf —
`Officer-Id` (the officer at the counter), `Counter-Id` (the desk) and `Mpp-Site` (the public service mall). They
are recorded with the access in the audit log. Missing → 400 `context_missing` (naming the headers); present but
not short printable ASCII → 400 `context_invalid`. Endpoints check it right after authentication, so an unknown
caller gets 401, not a lecture about headers.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from core.api.problems import Problem, item

MAX_LEN = 64
HEADERS = {"officer": "Officer-Id", "counter": "Counter-Id", "site": "Mpp-Site"}
_RAW = {name.lower().encode("latin-1"): key for key, name in HEADERS.items()}


@dataclass(frozen=True)
class CounterContext:
    officer: str
    counter: str
    site: str

    def as_detail(self) -> dict[str, str]:
        """How the context appears in an audit entry's detail."""
        return {"officer": self.officer, "counter": self.counter, "site": self.site}


CONTEXT_PARAMETERS = [
    {
        "name": header,
        "in": "header",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_LEN},
    }
    for header, description in (
        ("Officer-Id", "The officer at the counter (e.g. their NIP)"),
        ("Counter-Id", "The counter (desk) the request is made at"),
        ("Mpp-Site", "The public service mall (MPP)"),
    )
]
"""For `openapi_extra={"parameters": CONTEXT_PARAMETERS}` on the routes that call `counter_context`."""


def _valid(value: str) -> bool:
    return len(value) <= MAX_LEN and value.isascii() and value.isprintable()


def counter_context(request: Request) -> CounterContext:
    """The request's counter context (also left on `request.state.counter_context` for the audit entry).

    A plain call at the top of an endpoint, after its authentication dependency: a FastAPI dependency with
    header parameters would cost more than the rest of a cached lookup's framework work."""
    given = dict.fromkeys(HEADERS, "")
    found: set[str] = set()
    for raw, value in request.scope["headers"]:  # one pass; the first of repeated headers counts, as headers.get
        key = _RAW.get(raw)
        if key is not None and key not in found:
            found.add(key)
            given[key] = value.decode("latin-1").strip()
    if not all(given.values()):
        raise Problem(
            400,
            "context_missing",
            "The counter context is required",
            "Send Officer-Id, Counter-Id and Mpp-Site with every citizen read, verification and submission.",
            errors=[
                item("This header is required.", "context_missing", header=HEADERS[k])
                for k, v in given.items()
                if not v
            ],
        )
    invalid = [HEADERS[k] for k, v in given.items() if not _valid(v)]
    if invalid:
        raise Problem(
            400,
            "context_invalid",
            "The counter context is not valid",
            f"At most {MAX_LEN} printable ASCII characters each.",
            errors=[
                item(f"At most {MAX_LEN} printable ASCII characters.", "context_invalid", header=h) for h in invalid
            ],
        )
    context = CounterContext(**given)
    request.state.counter_context = context
    return context
