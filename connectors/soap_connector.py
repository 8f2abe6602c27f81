"""The SOAP client base: an agency's SOAP client is a declaration on `SoapConnector`, not code of its own.

Why a declaration: the SOAP agencies differ in names (WSDL, binding, operations, reply codes, list wrappers, where
the idempotency key travels, which reply element is the reference), not in behaviour; the session, fault mapping,
lookup reading, submission check and health call are the same for each, so they live here once
(connectors/soap.py holds the wire: session, hardened WSDL loading, faults).

Where no public specification exists, an agency's packaged WSDL is Gerbang's adapter contract (an agency, or an
adapter in front of it, implements it). A deployment may instead point the connector at the agency's own WSDL
(setting `wsdl`: a file path or an http(s) URL) and name its lookup and health operations, NIK argument and reply
codes (`lookup_*`, `health_operation`: see `LookupContract`); the reply's field names then live only in the mapping
(setting `mapping`). Submissions stay on the adapter contract.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from lxml import etree

from connectors.base import (
    AgencyProtocolError,
    AgencyRejected,
    FacetStatus,
    Health,
    LookupResult,
    NotSupported,
    SubmitResult,
    check_payload,
    probe_health,
)
from connectors.config import name_setting, required
from connectors.config import timeout_s as configured_timeout_s
from connectors.soap import SoapSession, password_token, plain, wsdl_location

if TYPE_CHECKING:
    from connectors.base import VerifyResult

XML_NAME = re.compile(r"[A-Za-z0-9_.-]{1,80}")  # an operation or element a deployment names in settings
PROBE_NIK = "0000000000000000"
"""Whom a health probe by lookup asks about (a WSDL without a cheap operation): a NIK nobody holds."""


@dataclass(frozen=True)
class LookupContract:
    """How a SOAP connector reads its agency: the lookup operation and its NIK argument, the reply element holding
    the outcome code with the codes for found and not found, list wrappers to flatten ({"daftarSIM": "sim"}), and
    the cheap operation health calls.

    The declared values are the adapter contract (the packaged WSDL); settings `lookup_operation`,
    `lookup_nik_argument`, `lookup_code_element`, `lookup_found_code`, `lookup_not_found_code`,
    `lookup_message_element` and `health_operation` fit another WSDL without code (`configured`). A contract without
    a code element takes any structure as found and a Client fault coded `not_found_fault` as not found; one without
    a health operation probes health with a lookup. The reply is handed on with its own field names: the mapping is
    where they meet the canonical model."""

    operation: str
    health_operation: str | None
    lists: Mapping[str, str] = field(default_factory=dict)
    nik_argument: str = "nik"
    code_element: str | None = "kodeRespon"
    found_code: str = "00"
    not_found_code: str = "01"
    message_element: str = "pesan"
    not_found_fault: str | None = None
    arguments: Mapping[str, Any] = field(default_factory=dict)
    """Further required arguments of the lookup operation, sent as given."""

    def configured(self, agency: str, config: Mapping[str, Any]) -> LookupContract:
        """This contract with the names a deployment set (ValueError at start-up for one that is no XML name)."""
        names = ("operation", "nik_argument", "code_element", "found_code", "not_found_code", "message_element")
        chosen: dict[str, Any] = {
            name: _name_setting(config, agency, f"lookup_{name}", getattr(self, name)) for name in names
        }
        chosen["health_operation"] = _name_setting(config, agency, "health_operation", self.health_operation)
        return dataclasses.replace(self, **chosen)

    def check(self, agency: str, session: SoapSession) -> None:
        """The WSDL must offer the lookup and health operations: a ValueError at start-up, not at a lookup."""
        offered = set(session.operations())
        missing = [op for op in (self.operation, self.health_operation) if op is not None and op not in offered]
        if missing:
            raise ValueError(
                f"{agency}: the WSDL has no operation {', '.join(missing)} "
                f"(set lookup_operation / health_operation; it offers {', '.join(sorted(offered))})"
            )

    async def lookup(self, agency: str, session: SoapSession, nik: str) -> LookupResult:
        """Call the lookup operation and classify the reply by its code element."""
        try:
            reply = plain(await session.call(self.operation, **self.arguments, **{self.nik_argument: nik}))
        except AgencyRejected as exc:
            if self.not_found_fault is None or exc.code != self.not_found_fault:
                raise
            return LookupResult(agency=agency, status=FacetStatus.not_found, agency_code=exc.code)
        if not isinstance(reply, dict):
            raise AgencyProtocolError(agency, "lookup reply is not a structure")
        code = None
        if self.code_element is not None:
            code = _text(reply.get(self.code_element))
            message = _text(reply.get(self.message_element))
            message = message[:200] if message is not None else None
            if code == self.not_found_code:
                return LookupResult(agency=agency, status=FacetStatus.not_found, agency_code=code, message=message)
            if code != self.found_code:
                raise AgencyProtocolError(agency, f"unexpected {self.code_element} {str(code)[:10]!r}", code=code)
        fields = dict(reply)
        for key, inner in self.lists.items():
            wrapper = fields.get(key)
            if wrapper is None or isinstance(wrapper, dict):  # our contract wraps lists: {"daftarSIM": {"sim": [...]}}
                fields[key] = (wrapper or {}).get(inner) or []
        return LookupResult(agency=agency, status=FacetStatus.ok, fields=fields, agency_code=code)


def _text(value: Any) -> str | None:
    return str(value).strip() if value is not None else None


def _name_setting(config: Mapping[str, Any], agency: str, key: str, default: str | None) -> str | None:
    """A name the deployment set (`name_setting`), else the declared one; a declared None stays None unless set."""
    return name_setting(config, agency, key, default or "", XML_NAME) or default


@dataclass(frozen=True)
class SoapSubmission:
    """One submission service of a SOAP agency: its operation and payload schema, where the idempotency key
    travels, and how the reply says yes.

    The key is the body element `key_element`, or else the SOAP header `key_header`: a header part the WSDL
    declares ("kunci"), or a Clark name ("{urn:…}IdempotencyKey") for a header the WSDL does not declare. The
    reply must hold `code_element` = `accepted_code` (no code element: any reply) and a `reference`; `noun` names
    the reply in the error when it does not. `arguments` turns a payload into the operation's arguments where the
    WSDL's types differ from JSON (decimals, list wrappers)."""

    operation: str
    schema: Mapping[str, Any]
    reference: str
    key_element: str | None = None
    key_header: str | None = None
    noun: str = "submission"
    code_element: str | None = "kodeRespon"
    accepted_code: str = "00"
    arguments: Callable[[Mapping[str, Any]], Mapping[str, Any]] = dict

    def call_arguments(self, payload: Mapping[str, Any], key: str) -> dict[str, Any]:
        """The operation's keyword arguments for zeep: the payload's, and the key where the contract wants it."""
        arguments = dict(self.arguments(payload))
        if self.key_element is not None:
            arguments[self.key_element] = key
        elif self.key_header is not None and self.key_header.startswith("{"):
            header = etree.Element(self.key_header)
            header.text = key
            arguments["_soapheaders"] = [header]
        elif self.key_header is not None:
            arguments["_soapheaders"] = {self.key_header: key}
        return arguments

    def result(self, agency: str, reply: Any) -> SubmitResult:
        """The agency's reference from its reply, or AgencyProtocolError for a reply that is not a yes."""
        reply = reply if isinstance(reply, dict) else {}
        code = reply.get(self.code_element) if self.code_element is not None else None
        reference = reply.get(self.reference)
        if (self.code_element is not None and code != self.accepted_code) or not reference:
            raise AgencyProtocolError(agency, f"{self.noun} reply without a reference", code=code)
        return SubmitResult(agency=agency, reference=str(reference), detail=reply)


class SoapConnector:
    """The SOAP connector: a subclass declares its agency (`name`), its packaged `wsdl` and `binding`, its
    `contract` (lookup and health) and its `submissions`; the session comes from settings (`from_settings`)."""

    name: str = "soap"
    wsdl: ClassVar[Path]
    binding: ClassVar[str | None] = None
    contract: LookupContract
    submissions: ClassVar[Mapping[str, SoapSubmission]] = {}
    services: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    """Each submission's JSON Schema by service: the plug-in's `services`, derived once per class."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.services = {service: submission.schema for service, submission in cls.submissions.items()}

    def __init__(self, session: SoapSession, contract: LookupContract):
        self.session = session
        self.contract = contract
        contract.check(self.name, session)

    @classmethod
    def from_settings(cls, config: Mapping[str, str]) -> Self:
        """A connector from its settings (`GERBANG_AGENCY_<NAME>_*`). The session is closed again if the WSDL lacks
        what the contract needs (ValueError).

        Settings: `url` (the endpoint), `user`, `password`, `password_type` (`digest` default, or `text`),
        `timeout_s` (default 5), and for another WSDL `wsdl`, `lookup_*`, `health_operation` (see the module)."""
        agency = cls.name
        contract = cls.contract.configured(agency, config)
        token = password_token(
            required(config, agency, "user"),
            required(config, agency, "password"),
            config.get("password_type") or "digest",
        )
        session = SoapSession(
            agency,
            wsdl_location(config, agency, cls.wsdl),
            required(config, agency, "url"),
            binding=cls.binding,
            wsse=token,
            timeout_s=configured_timeout_s(config, agency),
        )
        try:
            return cls(session, contract)
        except ValueError:
            session.close_now()
            raise

    async def health(self) -> Health:
        """Call the agency's cheapest operation (or, without one, look up a NIK nobody holds) and time it; any
        failure is `up=False` with the reason."""
        operation = self.contract.health_operation
        if operation is None:
            return await probe_health(self.name, lambda: self.lookup(PROBE_NIK), typed=True)
        return await probe_health(self.name, lambda: self.session.call(operation), typed=True)

    async def lookup(self, nik: str) -> LookupResult:
        """The reply of the lookup operation, its own field names kept (see `LookupContract`)."""
        return await self.contract.lookup(self.name, self.session, nik)

    async def verify(self, nik: str, claims: Mapping[str, Any]) -> VerifyResult:
        raise NotSupported(self.name, "this agency offers no per-field verification")

    async def submit(self, service: str, payload: Mapping[str, Any], idempotency_key: str) -> SubmitResult:
        """Check the payload against the service's schema, call its operation with the key, read the reference."""
        check_payload(self.name, self.services, service, payload)
        submission = self.submissions[service]
        reply = await self.session.call(submission.operation, **submission.call_arguments(payload, idempotency_key))
        return submission.result(self.name, plain(reply))

    async def aclose(self) -> None:
        await self.session.aclose()
