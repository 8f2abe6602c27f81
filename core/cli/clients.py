"""`gerbang clients …`: register API clients and their agreements, rotate and revoke their keys.

The same operations as the admin API (`/v1/admin/clients`); every change is an audit entry. A new key is printed
once and never again. Changes reach running API processes within the principal cache's two seconds.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from core.cli.common import database_failed, fail, session
from identity.clock import utcnow

if TYPE_CHECKING:
    from sqlmodel import Session

app = typer.Typer(
    help="API clients (counter apps, auditors, agencies, operators), their agreements and keys.", no_args_is_help=True
)
T = TypeVar("T")


MAX_GRACE_HOURS = 24 * 366  # a year; a longer overlap is no rotation


def own_rate(rate: float) -> float | None:
    """--rate as given, None for the default (negative: "the settings'"); NaN goes on, to be refused."""
    return None if rate < 0 else rate  # NaN < 0 is False: it is passed on, not taken for the default


def split(values: list[str]) -> list[str]:
    """Accept `--scopes a,b --scopes c` alike."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def check_purposes(wanted: list[str]) -> None:
    from identity.purposes import load_purposes

    unknown = [p for p in wanted if p not in load_purposes() and p != "*"]
    if unknown:
        fail(f"unknown purpose(s): {', '.join(unknown)}; known: {', '.join(sorted(load_purposes()))}")


def parse_date(value: str | None, option: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{option} takes a date as YYYY-MM-DD, not {value!r}")


@contextmanager
def guarded() -> Iterator[Session]:
    """A session; the registry's refusals and database errors become a clean `error: …` exit."""
    from sqlalchemy.exc import SQLAlchemyError

    from core.security import clients as registry

    try:
        with session() as s:
            yield s
    except registry.ClientNotFound as exc:
        fail(str(exc))
    except (registry.ClientExists, ValueError) as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        database_failed(exc)


def run(work: Callable[[Session], T]) -> T:
    with guarded() as s:
        return work(s)


def echo(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False))


KIND_HELP = "counter, auditor, agency or operator"


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Unique client name, e.g. mpp-depok-counter-3"),
    scopes: list[str] = typer.Option([], "--scopes", "-s", help="Scopes, comma-separated or repeated"),
    purposes: list[str] = typer.Option([], "--purposes", "-p", help="Allowed purposes, comma-separated"),
    kind: str = typer.Option("counter", help=KIND_HELP),
    agreement: str = typer.Option("", help="The agreement (PKS) reference the client acts under"),
    agreement_from: str = typer.Option("", help="First day the agreement is in force (YYYY-MM-DD, WIB)"),
    agreement_to: str = typer.Option("", help="Last day the agreement is in force (YYYY-MM-DD, WIB)"),
    rate: float = typer.Option(-1.0, help="Own rate limit, requests/s (0: unlimited; default: the settings')"),
    burst: int = typer.Option(0, help="Own burst (default: the settings')"),
) -> None:
    """Register a client and print its new API key (shown only this once)."""
    from core.security import clients as registry

    wanted = split(purposes)
    check_purposes(wanted)
    start, end = parse_date(agreement_from, "--agreement-from"), parse_date(agreement_to, "--agreement-to")

    def work(s: Session) -> None:
        client, key = registry.create_client(
            s,
            name,
            split(scopes),
            wanted,
            kind=kind,
            agreement=agreement or None,
            agreement_from=start,
            agreement_to=end,
            rate_per_s=own_rate(rate),
            rate_burst=burst or None,
        )
        echo(
            {
                "client": client.name,
                "kind": client.kind,
                "scopes": client.scopes,
                "purposes": client.purposes,
                "agreement": client.agreement,
                "api_key": key,
            }
        )

    run(work)
    typer.secho("Store the key now: it is not shown again.", err=True, fg=typer.colors.YELLOW)


@app.command("list")
def list_clients() -> None:
    """List clients (never their keys) as JSON lines."""
    from core.security import clients as registry

    def work(s: Session) -> None:
        for client in registry.all_clients(s):
            shown = registry.describe(s, client)
            echo(
                {
                    "client": client.name,
                    "kind": client.kind,
                    "scopes": client.scopes,
                    "purposes": client.purposes,
                    "disabled": client.disabled,
                    "agreement": shown["agreement"]["reference"],
                    "agreement_state": shown["agreement"]["state"],
                    "live_keys": sum(1 for k in shown["keys"] if k["live"]),
                }
            )

    run(work)


@app.command("show")
def show(name: str = typer.Argument(...)) -> None:
    """Everything about one client: agreement and its state, rate limit, keys (ids, dates) — never a key."""
    from core.security import clients as registry

    run(lambda s: echo(registry.describe(s, registry.get_client(s, name))))


@app.command("update")
def update(
    name: str = typer.Argument(...),
    scopes: list[str] = typer.Option([], "--scopes", "-s", help="Replace the scopes"),
    purposes: list[str] = typer.Option([], "--purposes", "-p", help="Replace the allowed purposes"),
    kind: str = typer.Option("", help=KIND_HELP),
    agreement: str = typer.Option("", help="New agreement reference (e.g. a renewed PKS)"),
    agreement_from: str = typer.Option("", help="YYYY-MM-DD"),
    agreement_to: str = typer.Option("", help="YYYY-MM-DD"),
    rate: float = typer.Option(-1.0, help="Own rate limit, requests/s (0: unlimited)"),
    burst: int = typer.Option(0, help="Own burst"),
    clear: list[str] = typer.Option([], help="Fields to empty: agreement, rate (back to the settings')"),
) -> None:
    """Change a client: only the options given change."""
    from core.security import clients as registry

    if purposes:
        check_purposes(split(purposes))
    empties: list[str] = []
    for item in split(clear):
        if item == "agreement":
            empties += ["agreement", "agreement_from", "agreement_to"]
        elif item == "rate":
            empties += ["rate_per_s", "rate_burst"]
        else:
            fail(f"--clear takes agreement or rate, not {item!r}")
    changes: dict[str, Any] = {
        "scopes": split(scopes) or None,
        "purposes": split(purposes) or None,
        "kind": kind or None,
        "agreement": agreement or None,
        "agreement_from": parse_date(agreement_from, "--agreement-from"),
        "agreement_to": parse_date(agreement_to, "--agreement-to"),
        "rate_per_s": own_rate(rate),
        "rate_burst": burst or None,
        "clear": empties,
    }
    run(lambda s: echo(registry.describe(s, registry.update_client(s, name, **changes))))


@app.command("rotate-key")
def rotate_key(
    name: str = typer.Argument(...),
    grace: float = typer.Option(24.0, help="Hours the current keys keep working (0: stop now)"),
) -> None:
    """Print a new key for the client; its current keys stop working after the grace period."""
    if not 0 <= grace <= MAX_GRACE_HOURS:  # also refuses nan and inf
        fail(f"--grace is hours from 0 to {MAX_GRACE_HOURS}")
    from core.security import clients as registry

    def work(s: Session) -> None:
        new, key = registry.rotate_key(s, name, grace=dt.timedelta(hours=grace))
        echo(
            {
                "client": name,
                "key_id": new.key_id,
                "api_key": key,
                "old_keys_until": (utcnow() + dt.timedelta(hours=grace)).isoformat(),
            }
        )

    run(work)
    typer.secho("Store the key now: it is not shown again.", err=True, fg=typer.colors.YELLOW)


@app.command("revoke")
def revoke(
    name: str = typer.Argument(...),
    key_ids: list[str] = typer.Option([], "--key-id", help="Key to revoke (repeat); default: all"),
) -> None:
    """Revoke keys of a client now (every live key when no --key-id is given)."""
    if key_ids and not split(key_ids):  # no key ids means "all": --key-id '' must not come to mean it
        fail("--key-id cannot be empty; leave --key-id out to revoke every key")
    from core.security import clients as registry

    run(lambda s: echo({"client": name, "revoked": registry.revoke_keys(s, name, split(key_ids))}))


@app.command("disable")
def disable(name: str = typer.Argument(...)) -> None:
    """Refuse every key of the client until `gerbang clients enable`."""
    from core.security import clients as registry

    run(lambda s: echo({"client": registry.set_disabled(s, name, True).name, "disabled": True}))


@app.command("enable")
def enable(name: str = typer.Argument(...)) -> None:
    """Accept the client's live keys again."""
    from core.security import clients as registry

    run(lambda s: echo({"client": registry.set_disabled(s, name, False).name, "disabled": False}))
