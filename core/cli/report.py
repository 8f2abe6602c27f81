"""`gerbang report …`: the usage report an agreement (PKS) asks for, signed with the audit log's key."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path
from typing import Any

import typer

from core.cli.common import atomic_file, database_failed, fail

app = typer.Typer(help="Reports for agreements: per agency, per purpose access counts, signed.", no_args_is_help=True)


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{option} takes a date as YYYY-MM-DD, not {value!r}")


@app.command("usage")
def usage(
    client: str = typer.Option(..., "--client", help="The client the report is about"),
    start: str = typer.Option(..., "--from", help="First day (YYYY-MM-DD, WIB)"),
    end: str = typer.Option(..., "--to", help="Last day, inclusive (YYYY-MM-DD, WIB)"),
    out: Path | None = typer.Option(None, help="Write the signed report here instead of printing it"),
) -> None:
    """Count the client's accesses per agency and purpose from the audit log (sequenced and checkpointed first,
    so everything recorded until now is in) and print the report as a signed note."""
    from core.audit.signer import load_signer
    from core.settings import get_settings

    first, last = _date(start, "--from"), _date(end, "--to")
    settings = get_settings()
    try:
        signer = load_signer(settings)
    except ValueError as exc:
        fail(str(exc))
    with contextlib.ExitStack() as stack:
        # opened first: an unwritable --out is told before the report is built and its audit entry committed
        target = stack.enter_context(atomic_file(out)) if out is not None else None
        signed, report = _build_and_record(settings, signer, client, first, last)
        if target is not None:
            target.write(signed)
    if out is not None:
        typer.echo(json.dumps({"written": str(out), "totals": report["totals"]}))
    else:
        typer.echo(signed, nl=False)


def _build_and_record(
    settings: Any, signer: Any, client: str, first: dt.date, last: dt.date
) -> tuple[str, dict[str, Any]]:
    """The signed report, after its `admin.usage_report` entry is committed."""
    from sqlalchemy.exc import SQLAlchemyError

    from core.audit.log import record
    from core.audit.sequencer import Policy, SequencerError, sequence
    from core.db import make_engine, session_factory
    from core.security.clients import ClientNotFound, get_client
    from core.security.usage import ReportError, build, sign_report

    engine = make_engine(settings.database_url)
    try:
        sequence(
            engine,
            signer,
            Policy(settings.audit_checkpoint_entries, settings.audit_checkpoint_interval_s),
            force_checkpoint=True,
        )
        with session_factory(engine)() as session:
            subject = get_client(session, client)
            report = build(engine, subject, first, last)
            record(
                session,
                "admin.usage_report",
                client=client,
                detail={
                    "from": report["period"]["from"],
                    "to": report["period"]["to"],
                    "log_size": report["audit_log"]["size"],
                    "totals": report["totals"],
                },
            )
            session.commit()
    except ClientNotFound as exc:
        fail(str(exc))
    except (ReportError, SequencerError) as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        database_failed(exc)
    finally:
        engine.dispose()
    return sign_report(report, signer), report


@app.command("verify")
def verify(
    path: Path = typer.Argument(..., help="A signed report"),
    key: str = typer.Option(..., "--key", help="The audit log's verifier key (GET /v1/audit/key), or @FILE"),
) -> None:
    """Check a report's signature against the audit key and print the report; exit 1 if it does not verify."""
    from core.security.usage import ReportError, verify_report

    try:
        signed = path.read_text(encoding="utf-8")
        vkey = Path(key[1:]).read_text(encoding="utf-8").strip() if key.startswith("@") else key.strip()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read: {exc}")
    try:
        report = verify_report(signed, vkey)
    except ReportError as exc:
        fail(str(exc), 1)
    typer.echo(json.dumps(report, sort_keys=True))
