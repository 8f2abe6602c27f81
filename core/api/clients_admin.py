"""`/v1/admin/clients` (scope `admin`): the same operations as `gerbang clients …`, for an operator's console.

Every change is an audit entry naming the client concerned and the operator (`by`). A change takes effect at once
in the process that made it and within the principal cache's two seconds everywhere else.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from core.api.auth import require
from core.api.openapi import problems
from core.api.problems import Problem
from core.api.state import app_state
from core.db.models import Client
from core.security import clients as registry
from core.security.clients import Principal
from identity.purposes import load_purposes

router = APIRouter(prefix="/v1/admin/clients", tags=["operations"])
Kind = Literal["counter", "auditor", "agency", "operator"]
RESPONSES = problems("client_invalid", "client_not_found", "client_exists")


class Agreement(BaseModel):
    """The cooperation agreement (PKS) the client acts under; dates inclusive, in WIB."""

    model_config = ConfigDict(extra="forbid")
    reference: str = Field(min_length=1, max_length=100, examples=["PKS-001/2025"])
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None


class RateLimit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    per_s: float | None = Field(default=None, ge=0, le=1_000_000, description="0: unlimited")
    burst: int | None = Field(default=None, ge=1, le=1_000_000)


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")
    kind: Kind = "counter"
    scopes: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=50)
    purposes: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=50)
    agreement: Agreement | None = None
    rate_limit: RateLimit | None = None


class ClientChange(BaseModel):
    """Only the fields given change; `agreement: null` or `rate_limit: null` removes them."""

    model_config = ConfigDict(extra="forbid")
    kind: Kind | None = None
    scopes: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=50)
    purposes: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=50)
    agreement: Agreement | None = None
    rate_limit: RateLimit | None = None


class KeyRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace_s: int = Field(
        default=86400,
        ge=0,
        le=90 * 86400,
        description="How long the client's current keys keep working (0: stop at once)",
    )


class Revocation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key_ids: list[Annotated[str, Field(max_length=32)]] = Field(
        default_factory=list, max_length=100, description="Keys to revoke now; empty: every live key"
    )


class AgreementView(BaseModel):
    reference: str | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    state: Literal["in_force", "agreement_expired", "agreement_not_started"]


class KeyView(BaseModel):
    key_id: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    live: bool


class ClientView(BaseModel):
    name: str
    kind: str
    scopes: list[str]
    purposes: list[str]
    disabled: bool
    agreement: AgreementView
    rate_limit: RateLimit
    keys: list[KeyView]
    created_at: dt.datetime


class ClientList(BaseModel):
    clients: list[ClientView]


class NewKey(BaseModel):
    client: ClientView
    api_key: str = Field(description="Shown only this once")


class Revoked(BaseModel):
    revoked: list[str]


def check_purposes(purposes: list[str] | None) -> None:
    unknown = [p for p in purposes or [] if p not in load_purposes() and p != "*"]
    if unknown:
        raise Problem(
            400, "client_invalid", "Unknown purpose", f"Unknown: {', '.join(unknown)}", purposes=sorted(load_purposes())
        )


def run(request: Request, work: Any) -> Any:
    """Run `work(session)` and translate the registry's refusals into problems."""
    with app_state(request.app).sessions() as session:
        try:
            return work(session)
        except registry.ClientNotFound:
            raise Problem(404, "client_not_found", "No such client") from None
        except registry.ClientExists as exc:
            raise Problem(409, "client_exists", "A client of that name exists", str(exc)) from None
        except IntegrityError:
            raise Problem(409, "client_exists", "A client of that name exists") from None
        except ValueError as exc:
            raise Problem(400, "client_invalid", "The client is not valid", str(exc)) from None
        finally:
            app_state(request.app).principals.clear()


def view(session: Any, client: Client) -> ClientView:
    return ClientView.model_validate(registry.describe(session, client))


@router.get("", response_model=ClientList, responses=RESPONSES)
async def list_clients(request: Request, _: Annotated[Principal, Depends(require("admin"))]) -> ClientList:
    """Every client, its agreement, rate limit and keys (ids only)."""

    def work(session: Any) -> ClientList:
        return ClientList(clients=[view(session, c) for c in registry.all_clients(session)])

    return await run_in_threadpool(run, request, work)


@router.post("", status_code=201, response_model=NewKey, responses=RESPONSES)
async def create_client(
    body: ClientIn, request: Request, admin: Annotated[Principal, Depends(require("admin"))]
) -> JSONResponse:
    """Register a client; its first API key is in the answer, and nowhere else ever again."""
    check_purposes(body.purposes)
    pks = body.agreement
    limit = body.rate_limit or RateLimit()

    def work(session: Any) -> NewKey:
        client, key = registry.create_client(
            session,
            body.name,
            body.scopes,
            body.purposes,
            kind=body.kind,
            agreement=pks.reference if pks else None,
            agreement_from=pks.valid_from if pks else None,
            agreement_to=pks.valid_to if pks else None,
            rate_per_s=limit.per_s,
            rate_burst=limit.burst,
            actor=admin.name,
        )
        return NewKey(client=view(session, client), api_key=key)

    created = await run_in_threadpool(run, request, work)
    return JSONResponse(
        created.model_dump(mode="json"), status_code=201, headers={"Location": f"/v1/admin/clients/{body.name}"}
    )


@router.get("/{name}", response_model=ClientView, responses=RESPONSES)
async def show_client(name: str, request: Request, _: Annotated[Principal, Depends(require("admin"))]) -> ClientView:
    return await run_in_threadpool(run, request, lambda s: view(s, registry.get_client(s, name)))


@router.patch("/{name}", response_model=ClientView, responses=RESPONSES)
async def change_client(
    name: str, body: ClientChange, request: Request, admin: Annotated[Principal, Depends(require("admin"))]
) -> ClientView:
    """Change kind, scopes, purposes, agreement (e.g. a renewed PKS) or rate limit."""
    check_purposes(body.purposes)
    given = body.model_fields_set
    changes: dict[str, Any] = {"kind": body.kind, "scopes": body.scopes, "purposes": body.purposes, "clear": []}
    if "agreement" in given:
        if body.agreement is None:
            changes["clear"] += ["agreement", "agreement_from", "agreement_to"]
        else:
            changes.update(
                agreement=body.agreement.reference,
                agreement_from=body.agreement.valid_from,
                agreement_to=body.agreement.valid_to,
            )
            changes["clear"] += [
                f
                for f, v in (("agreement_from", body.agreement.valid_from), ("agreement_to", body.agreement.valid_to))
                if v is None
            ]
    if "rate_limit" in given:
        limit = body.rate_limit or RateLimit()
        changes.update(rate_per_s=limit.per_s, rate_burst=limit.burst)
        changes["clear"] += [f for f, v in (("rate_per_s", limit.per_s), ("rate_burst", limit.burst)) if v is None]

    def work(session: Any) -> ClientView:
        return view(session, registry.update_client(session, name, actor=admin.name, **changes))

    return await run_in_threadpool(run, request, work)


@router.post("/{name}/keys", status_code=201, response_model=NewKey, responses=RESPONSES)
async def rotate_key(
    name: str, request: Request, admin: Annotated[Principal, Depends(require("admin"))], body: KeyRotation | None = None
) -> NewKey:
    """A new key for the client; its current keys keep working for `grace_s`, then stop."""
    grace = dt.timedelta(seconds=(body or KeyRotation()).grace_s)

    def work(session: Any) -> NewKey:
        _, key = registry.rotate_key(session, name, grace=grace, actor=admin.name)
        return NewKey(client=view(session, registry.get_client(session, name)), api_key=key)

    return await run_in_threadpool(run, request, work)


@router.post("/{name}/revoke", response_model=Revoked, responses=RESPONSES)
async def revoke(
    name: str, request: Request, admin: Annotated[Principal, Depends(require("admin"))], body: Revocation | None = None
) -> Revoked:
    """Revoke keys now (all live keys when none are named)."""
    wanted = (body or Revocation()).key_ids
    return await run_in_threadpool(
        run,
        request,
        lambda s: Revoked(revoked=registry.revoke_keys(s, name, wanted, actor=admin.name)),
    )


@router.post("/{name}/disable", response_model=ClientView, responses=RESPONSES)
async def disable(name: str, request: Request, admin: Annotated[Principal, Depends(require("admin"))]) -> ClientView:
    """Refuse every key of the client until it is enabled again."""
    return await _set_disabled(request, name, True, admin)


@router.post("/{name}/enable", response_model=ClientView, responses=RESPONSES)
async def enable(name: str, request: Request, admin: Annotated[Principal, Depends(require("admin"))]) -> ClientView:
    return await _set_disabled(request, name, False, admin)


async def _set_disabled(request: Request, name: str, disabled: bool, admin: Principal) -> ClientView:
    return await run_in_threadpool(
        run, request, lambda s: view(s, registry.set_disabled(s, name, disabled, actor=admin.name))
    )
