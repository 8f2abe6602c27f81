"""Every problem `code` the API can answer with, its HTTP status and what it means: the one list.

Why one list: clients branch on `code`, so a code is a promise. The OpenAPI document's error descriptions, the
README's error table and the tests read this list; a test scans the source for `Problem(...)` codes and fails
if one is missing here (tests/core/api/test_problem_codes.py), and the README table is checked against it.
"""

from __future__ import annotations

from typing import NamedTuple


class Code(NamedTuple):
    status: int
    meaning: str


CODES: dict[str, Code] = {
    # 400: the request is malformed where no schema could say so
    "nik_invalid": Code(400, "the NIK breaks a rule (the `errors` list says which)"),
    "purpose_missing": Code(400, "no `purpose` stated"),
    "purpose_unknown": Code(400, "the `purpose` is not a declared one"),
    "facet_unknown": Code(400, "a facet in `facets` does not exist"),
    "plates_invalid": Code(400, "`plates` is not a list of 1-10 comma-separated registration plates"),
    "context_missing": Code(400, "`Officer-Id`, `Counter-Id` or `Mpp-Site` missing (the `errors` list names them)"),
    "context_invalid": Code(400, "`Officer-Id`, `Counter-Id` or `Mpp-Site` malformed"),
    "idempotency_key_missing": Code(400, "no `Idempotency-Key` header on a submission"),
    "idempotency_key_invalid": Code(400, "the `Idempotency-Key` is longer than 200 or not printable ASCII"),
    "claims_empty": Code(400, "a verification that names no field to check"),
    "claims_invalid": Code(400, "the civil registry cannot check the claims as given"),
    "cursor_invalid": Code(400, "a `cursor` this API did not hand out"),
    "time_invalid": Code(400, "a time outside the years 1 to 9999"),
    "action_invalid": Code(400, "an audit `action` filter that is not a dotted name (optionally ending in `.*`)"),
    "audit_range": Code(400, "sizes or indexes outside the signed log"),
    "client_invalid": Code(400, "a client change the registry refuses (unknown scope or purpose, bad dates …)"),
    "callback_url_not_allowed": Code(400, "a callback URL whose host is not on `GERBANG_CALLBACK_ALLOWED_HOSTS`"),
    "json_invalid": Code(400, "a body sent as JSON that does not parse as JSON"),
    "json_too_deep": Code(400, "a JSON body nested deeper than `GERBANG_MAX_JSON_DEPTH`"),
    "text_invalid": Code(
        400,
        "a control character (other than tab, LF, CR), an unpaired surrogate or U+FFFE/U+FFFF "
        "in the body, the path or the query; the `errors` item's `pointer` names the field",
    ),
    "bad_request": Code(400, "a request the HTTP layer refuses before any route sees it"),
    "http_invalid": Code(400, "a request that is not valid HTTP/1.1 (the server's parser refused it)"),
    "json_duplicate_key": Code(400, "a JSON object in the body names the same key twice"),
    "header_repeated": Code(
        400,
        "a header that takes one value (`Authorization`, `Idempotency-Key`, `Officer-Id` "
        "…) is given more than once; the `errors` item names it",
    ),
    # 401, 403
    "unauthenticated": Code(401, "no key, or an unknown, revoked or disabled one"),
    "agreement_expired": Code(403, "the client's agreement (PKS) ended"),
    "agreement_not_started": Code(403, "the client's agreement (PKS) is not in force yet"),
    "scope_missing": Code(403, "the key lacks the scope this needs (`required_scope` says which)"),
    "purpose_not_allowed": Code(403, "the client may not read records for that purpose"),
    "facet_not_allowed": Code(403, "the facet is not available for that purpose"),
    # 404: the path names nothing
    "citizen_not_found": Code(404, "the civil registry does not know the NIK"),
    "application_not_found": Code(404, "no such application (or not this client's)"),
    "subscription_not_found": Code(404, "no such subscription"),
    "event_not_found": Code(404, "the event id given as `from_event` or `after` is unknown"),
    "client_not_found": Code(404, "no such client"),
    "agency_not_found": Code(404, "the path names an agency this bus does not have"),
    "service_not_found": Code(404, "the path names a service the agency does not offer"),
    "code_list_not_found": Code(404, "the path names a code list the agency does not have"),
    "inbound_not_found": Code(404, "the agency takes no push of that name (`/v1/inbound/<agency>/<method>`)"),
    "not_found": Code(404, "no such path"),
    "method_not_allowed": Code(405, "the path does not take that method"),
    "not_acceptable": Code(406, "the answer cannot be given in an accepted media type"),
    "body_timeout": Code(408, "the body stopped arriving for `GERBANG_BODY_READ_TIMEOUT_S`"),
    "header_timeout": Code(408, "the request line and headers did not arrive within `GERBANG_HEADER_READ_TIMEOUT_S`"),
    # 409
    "idempotency_conflict": Code(409, "the `Idempotency-Key` was used for another request"),
    "not_replayable": Code(409, "only failed applications can be replayed"),
    "client_exists": Code(409, "a client of that name exists"),
    # 413, 415
    "payload_too_large": Code(413, "a body larger than `GERBANG_MAX_BODY_BYTES`"),
    "unsupported_media_type": Code(415, "a body that is not sent as JSON (`Content-Type: application/json`)"),
    "header_too_large": Code(431, "the request line and headers exceed `GERBANG_MAX_HEADER_BYTES`"),
    # 422: the body is JSON but says something the API cannot accept
    "request_invalid": Code(
        422, "the request breaks its schema (each `errors` item has a `pointer`, `parameter` or `header` and a `code`)"
    ),
    "payload_invalid": Code(422, "the payload breaks the agency service's JSON Schema (items point into `#/payload`)"),
    "nik_mismatch": Code(422, "the payload names another citizen than the application's `nik`"),
    "agency_unknown": Code(422, "the body names an agency this bus does not have"),
    "service_unknown": Code(422, "the body names a service the agency does not offer"),
    "event_unknown": Code(422, "the body names an event type that does not exist"),
    # 429, 5xx
    "rate_limited": Code(429, "the client's rate limit; `Retry-After` says when to try again"),
    "internal_error": Code(500, "a fault of Gerbang's own (logged); the request can be retried"),
    "agency_unavailable": Code(
        503,
        "The civil registry (or the agency a code list is searched at) cannot be reached; `Retry-After` says when to "
        "try again",
    ),
    "not_ready": Code(503, "`/readyz`: a check fails (`checks` says which); `Retry-After`"),
    "audit_unavailable": Code(503, "the audit log cannot be sequenced, signed or read right now; `Retry-After`"),
}

HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}
"""The code of an HTTP error raised below the routes (Starlette's 404 for an unknown path, 405, …)."""


def status_of(code: str) -> int:
    return CODES[code].status


def describe(codes: list[str]) -> str:
    """An OpenAPI response description listing `codes` with their meanings."""
    return "; ".join(f"`{c}`: {CODES[c].meaning}" for c in codes)


def readme_table() -> str:
    """The README's error table, generated from CODES (a test compares it with README.md)."""
    rows = ["| status | code | when |", "|---|---|---|"]
    rows += [
        f"| {c.status} | `{code}` | {c.meaning} |"
        for code, c in sorted(CODES.items(), key=lambda kv: (kv[1].status, kv[0]))
    ]
    return "\n".join(rows)
