"""What every connector offers: look up by NIK, verify claimed fields, submit, health.

A connector returns the agency's *own* fields; turning them into the canonical model is the job of its mapping in
`mappings/`. Failures are exceptions with a clear meaning for the bus: `AgencyUnavailable` and `AgencyTimeout`
are transient (retry later), `AgencyRejected` is the agency's permanent "no", `AgencyProtocolError` means the reply
could not be understood, `AgencyAccessDenied` means our credentials or network registration are wrong.
"""

from __future__ import annotations

import datetime as dt
import importlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import jsonschema

from identity.clock import utcnow
from identity.model import FacetStatus, LifeStatus  # part of the connector API: connectors import them from here
from identity.text import first_not_text


@dataclass(frozen=True)
class LookupResult:
    """An agency's answer about one NIK: its own field names and values, untouched."""

    agency: str
    status: FacetStatus
    fields: Mapping[str, Any] = field(default_factory=dict)
    fetched_at: dt.datetime = field(default_factory=utcnow)
    life_status: LifeStatus | None = None
    agency_code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class VerifyResult:
    """Per-field verdicts of a yes/no check: {field: (matched, score or None)} in the agency's field names.

    A person the agency knows but will not give verdicts for (Dukcapil: deceased, duplicate record) is `found`
    with no `fields`; `life_status` and `message` (the agency's text) say why."""

    agency: str
    found: bool
    fields: Mapping[str, tuple[bool, int | None]] = field(default_factory=dict)
    agency_code: str | None = None
    life_status: LifeStatus | None = None
    message: str | None = None


@dataclass(frozen=True)
class SubmitResult:
    """The agency accepted an application; `reference` is its own id for it."""

    agency: str
    reference: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Health:
    """Whether the agency answers, and how fast."""

    agency: str
    up: bool
    latency_ms: float | None = None
    detail: str | None = None


class AgencyError(Exception):
    """Base of every failure a connector reports; `code` is the agency's own code when it gave one."""

    transient: bool = False

    def __init__(self, agency: str, message: str, *, code: str | None = None, retry_after_s: float | None = None):
        super().__init__(f"{agency}: {message}")
        self.agency = agency
        self.message = message
        self.code = code
        self.retry_after_s = retry_after_s


class AgencyUnavailable(AgencyError):
    """Connection refused, 5xx, quota used up, outside hours: try again later."""

    transient = True


class AgencyTimeout(AgencyUnavailable):
    """No answer within the connector's timeout."""


class AgencyProtocolError(AgencyError):
    """The reply could not be understood (malformed body, wrong content type, bad signature or envelope)."""

    transient = True


class AgencyAccessDenied(AgencyError):
    """Our credentials, IP registration or agreement are refused: an operator must act."""


class AgencyRejected(AgencyError):
    """The agency's permanent refusal of a request (bad data, not eligible)."""


class NotSupported(AgencyError):
    """This agency does not offer the operation (e.g. Dukcapil takes no submissions)."""


async def probe_health(agency: str, probe: Callable[[], Awaitable[Any]], *, typed: bool = False) -> Health:
    """Time one cheap call to the agency: it returning means up; its AgencyError means down, with the reason
    (`typed`: led by the error's class name, e.g. `AgencyUnavailable: …`)."""
    started = time.perf_counter()
    try:
        await probe()
    except AgencyError as exc:
        detail = f"{type(exc).__name__}: {exc.message}" if typed else exc.message
        return Health(agency=agency, up=False, latency_ms=elapsed_ms(started), detail=detail)
    return Health(agency=agency, up=True, latency_ms=elapsed_ms(started))


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (a `time.perf_counter()` reading), to 0.1 ms."""
    return round((time.perf_counter() - started) * 1000, 1)


OPTIONAL_CALLS: Mapping[str, str] = {"lookup_plates": "lookup"}
"""Calls a connector may offer beyond the `Connector` protocol, each with the call it counts as: the wrappers
around a connector (circuit breaker, concurrency limit) pass exactly these through, guarded as that call.
`lookup_plates(nik, plates)` looks vehicles up by registration plate (identity.record asks it when a read names
plates)."""


def payload_schema(
    title: str,
    required: list[str],
    properties: Mapping[str, Any],
    examples: list[dict[str, Any]],
    conditions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A submission service's JSON Schema (draft 2020-12): an object of `properties` and nothing else, the `required`
    ones present, `conditions` (if/then) met; `examples` are payloads the agency's simulator accepts."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": dict(properties),
        **(conditions or {}),
        "examples": examples,
    }


def check_payload(
    agency: str, services: Mapping[str, Mapping[str, Any]], service: str, payload: Mapping[str, Any]
) -> None:
    """Refuse an unknown service (NotSupported), a payload outside its JSON Schema or one holding characters XML
    cannot carry (AgencyRejected, permanent): the check a connector makes before it calls the agency."""
    schema = services.get(service)
    if schema is None:
        raise NotSupported(agency, f"no submission service {service!r}; offered: {', '.join(sorted(services))}")
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(dict(payload)))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "payload"
        # only these messages are free of payload values (they name schema keys); the others quote the value
        what = error.message if error.validator in ("required", "additionalProperties") else error.validator
        raise AgencyRejected(agency, f"{service}: {where} does not match the schema ({what})")
    not_text = first_not_text(dict(payload))
    if not_text is not None:  # zeep would fail building the request, which read as the agency's fault (its breaker)
        raise AgencyRejected(agency, f"{service}: {not_text} holds characters XML cannot carry", code="payload_not_xml")


@runtime_checkable
class Connector(Protocol):
    """The four things the bus asks of any agency. Implementations are async and never raise anything but
    `AgencyError` subclasses for agency-side problems."""

    name: str

    async def lookup(self, nik: str) -> LookupResult: ...

    async def verify(self, nik: str, claims: Mapping[str, Any]) -> VerifyResult: ...

    async def submit(self, service: str, payload: Mapping[str, Any], idempotency_key: str) -> SubmitResult: ...

    async def health(self) -> Health: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class PlateLookup(Protocol):
    """A connector's optional lookup of vehicles by plate (plates a counter passes)."""

    async def lookup_plates(self, nik: str, plates: list[str]) -> LookupResult: ...


@runtime_checkable
class CodeLists(Protocol):
    """A connector that serves its agency's code lists (`ConnectorPlugin.code_lists`)."""

    async def codes(self, name: str, query: str) -> list[dict[str, str]]: ...


@dataclass(frozen=True)
class InboundItem:
    """One record an agency's push opens or updates: `reference` is the agency's id for it (OSS: id_izin),
    `owner` what it belongs to and what the push's credential covers (OSS: the NIB), `subject` the citizen (a
    NIK), `service` the record's kind, `payload` what the region needs to process it."""

    reference: str
    owner: str
    subject: str
    service: str
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class InboundPush:
    """A push whose credential checked out: the owner the credential covers, and the records it carries."""

    method: str
    owner: str
    items: tuple[InboundItem, ...]


class InboundRefused(Exception):
    """A push refused before anything is stored. `outcome` is one of "malformed", "unauthorized", "forbidden";
    `reason` a short machine code for the audit log (token_invalid, body_invalid …)."""

    def __init__(self, outcome: str, reason: str, message: str):
        super().__init__(message)
        self.outcome, self.reason, self.message = outcome, reason, message


@dataclass(frozen=True)
class Inbound:
    """An agency's own push route, served by the bus at `POST /v1/inbound/<agency>/<method>`.

    `read(method, headers, body, config, now)` checks the agency's credential (headers with lower-case names,
    the connector's settings) and parses the body into an `InboundPush`, or raises `InboundRefused`;
    `answer(method, outcome, message)` is the agency's reply as (HTTP status, JSON body) for an outcome:
    "stored", "failed", or one of `InboundRefused`'s; an empty `message` asks for the agency's own words for the
    outcome (the bus refuses "forbidden" a push that names another owner's record)."""

    methods: frozenset[str]
    read: Callable[[str, Mapping[str, str], bytes, Mapping[str, str], dt.datetime], InboundPush]
    answer: Callable[[str, str, str], tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class DemoTour:
    """What the demo banner offers to try with one agency, drawn from the demo's population by `ConnectorPlugin.demo`.

    `push` makes the agency's simulator push to the bus: the body of its `POST /_sim/push` (the bus adds `url`, its
    inbound route for `push_method`), said in `push_note`. `submission` is an application its simulator accepts
    (`{"nik", "agency", "service", "payload"}` of `POST /v1/applications`), said in `submission_note`."""

    submission: Mapping[str, Any] | None = None
    submission_note: str = ""
    push: Mapping[str, Any] | None = None
    push_method: str = ""
    push_note: str = ""


@dataclass(frozen=True)
class ConnectorPlugin:
    """What a connector package exposes through the `gerbang.connectors` entry-point group.

    `code_lists` names the agency's code lists a payload needs but no schema enum can hold (thousands of
    entries, kept by the agency: BPJS Kesehatan's clinics), {name: description}; the connector answers them with
    `async codes(name, query) -> [{"code", "name"}]`, read from the agency (`GET /v1/agencies/{agency}/codes/{name}`).

    `create(config)` builds a client from its settings (`GERBANG_AGENCY_<NAME>_*`, keys lower-case);
    `simulator(population, **options)` builds the agency's simulator as an ASGI app; `mapping` names the file in
    `mappings/`; `facet` is the canonical facet the agency fills; `services` maps each submission service to the
    JSON Schema of its payload.

    `purposes` declares the purposes that may read the agency's facet ({name: {"title": ..., "facets": ["identity",
    facet, …]}}), added to identity/purposes.yaml's root purposes. For connectors packaged on their own (see
    docs/writing-a-connector.md): `mapping_path` is a mapping file shipped in the package, read instead of
    `mappings/<mapping>.yaml`. `contract(population)` gives the contract kit (connectors/contract) the sample inputs
    its simulator answers.

    The hooks an agency may bring, so the bus names no agency: `inbound` is its push route, if it pushes to us
    (OSS: receiveNIB); `decides` joins a decision to the pushed record it decides; `demo(population)` is what the
    demo banner offers to try with it (`DemoTour`).
    """

    name: str
    title: str
    facet: str
    mapping: str
    create: Callable[[Mapping[str, str]], Connector]
    simulator: Callable[..., Any] | None = None
    sim_config: Callable[[str], dict[str, str]] | None = None
    services: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    protocol: str = "rest"
    mapping_path: str | None = None
    purposes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    contract: Callable[..., Any] | None = None
    code_lists: Mapping[str, str] = field(default_factory=dict)
    inbound: Inbound | None = None
    decides: Callable[[str, Mapping[str, Any]], tuple[str, str] | None] | None = None
    """For a submission (service, payload): the (owner, reference) of the pushed record it decides, if any (OSS: a
    `license_status` names its NIB and id_izin); the bus then adds a step to that record."""
    demo: Callable[[Any], DemoTour] | None = None


def lazy(module: str, attribute: str) -> Callable[..., Any]:
    """A stand-in for `module.attribute` that imports the module on its first call.

    For `ConnectorPlugin.simulator`/`sim_config`: discovering a plug-in must not import its simulator (FastAPI
    routes, synthetic data), which only the demo and the tests run."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), attribute)(*args, **kwargs)

    call.__name__ = call.__qualname__ = attribute
    call.__doc__ = f"{module}.{attribute}, imported on first call."
    return call


def agency_plugin(
    package: str,
    title: str,
    facet: str,
    create: Callable[[Mapping[str, str]], Connector],
    *,
    name: str | None = None,
    **more: Any,
) -> ConnectorPlugin:
    """The plug-in of an agency laid out in one folder (`connectors/<name>/`, as `gerbang connectors new` lays one
    out): named after its package (or `name`, for a package of its own, `gerbang_<name>`), its mapping
    `mappings/<name>.yaml` (or the file `mapping_path` names), its simulator, simulator settings and contract
    samples `<package>.simulator.simulator`/`sim_config`/`contract_samples`, imported on first call. `more` are the
    other `ConnectorPlugin` fields it declares (services, purposes, protocol, mapping_path …)."""
    name = name or package.rsplit(".", 1)[-1]
    simulator = f"{package}.simulator"
    return ConnectorPlugin(
        name=name,
        title=title,
        facet=facet,
        mapping=name,
        create=create,
        simulator=lazy(simulator, "simulator"),
        sim_config=lazy(simulator, "sim_config"),
        contract=lazy(simulator, "contract_samples"),
        **more,
    )
