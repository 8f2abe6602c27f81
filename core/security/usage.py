"""The usage report an agreement (PKS) asks for each semester: how often one client accessed which agency's data,
for which purpose — counted from the signed audit log, and signed with the log's own key.

Counted (entries of the client within the period, WIB calendar days, inclusive):
- `citizen.read`: one access per facet delivered (status ok or not_found), under that facet's agency and the
  read's purpose; `from_cache` says how many of them came from the record cache. A read that stopped at the civil
  registry (unknown NIK, registry unavailable) counts one access to it (`outcome` ≠ ok are in `refused`).
- `citizen.verify`: one verification at the civil registry under the stated purpose.
- `application.accepted`: one submission to the agency, under purpose `application:<service>`.

The report is anchored to the audit log: it counts exactly the entries below a signed checkpoint, whose size and
root hash it names, so anyone holding an export of the log can recount it. It is a C2SP signed note
(c2sp.org/signed-note): the text is a header line and the report as sorted, indented JSON; the signature line is
Ed25519 by the audit log's key (`GET /v1/audit/key`). `gerbang report verify FILE --key VKEY` checks one.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections import defaultdict
from typing import Any

from sqlalchemy import Engine, select

from connectors.registry import root_agency
from core.audit import decode_entry, note, store
from core.audit.models import entry_table as entries
from identity.clock import WIB, utcnow

HEADER = "gerbang usage report v1"
COUNTED = ("citizen.read", "citizen.verify", "application.accepted")
DELIVERED = ("ok", "not_found")


class ReportError(ValueError):
    """The report cannot be made or does not verify."""


def period_us(start: dt.date, end: dt.date) -> tuple[int, int]:
    """[start 00:00 WIB, the day after end 00:00 WIB) in Unix microseconds."""
    if end < start:
        raise ReportError("the period ends before it starts")
    if end >= dt.date.max - dt.timedelta(days=1):  # the day after `end` must exist
        raise ReportError("the period must end before 9999-12-30")
    lo = dt.datetime.combine(start, dt.time(), WIB)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), WIB)
    return int(lo.timestamp()) * 1_000_000, int(hi.timestamp()) * 1_000_000


def count(engine: Engine, client: str, start: dt.date, end: dt.date) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The log's latest checkpoint (size, root) and the per-agency, per-purpose counts below it."""
    lo, hi = period_us(start, end)
    rows: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"reads": 0, "from_cache": 0, "refused": 0, "verifications": 0, "submissions": 0}
    )
    with engine.connect() as conn:
        latest = store.latest_checkpoint(conn)
        if latest is None:
            raise ReportError("the audit log has no signed checkpoint yet (run `gerbang audit sequence`)")
        query = (
            select(entries.c.action, entries.c.agency, entries.c.data)
            .where(
                entries.c.client == client,
                entries.c.action.in_(COUNTED),
                entries.c.time_us >= lo,
                entries.c.time_us < hi,
                entries.c.leaf_index < latest.size,
            )
            .order_by(entries.c.leaf_index)
        )
        for action, agency, data in conn.execute(query):
            detail = decode_entry(bytes(data)).get("detail") or {}
            tally(rows, action, agency, detail)
    anchor = {
        "origin": latest.note.split("\n", 1)[0],
        "size": latest.size,
        "root_hash": base64.b64encode(bytes(latest.root)).decode(),
    }
    table = [{"agency": agency, "purpose": purpose, **counts} for (agency, purpose), counts in sorted(rows.items())]
    return anchor, table


def tally(rows: Any, action: str, agency: str | None, detail: dict[str, Any]) -> None:
    purpose = str(detail.get("purpose") or "-")
    if action == "citizen.verify":
        rows[(agency or root_agency(), purpose)]["verifications"] += 1
    elif action == "application.accepted":
        rows[(agency or "-", f"application:{detail.get('service', '-')}")]["submissions"] += 1
    elif detail.get("facets"):
        for facet in detail["facets"].values():
            if facet.get("status") in DELIVERED:
                counts = rows[(facet.get("agency") or "-", purpose)]
                counts["reads"] += 1
                counts["from_cache"] += 1 if facet.get("cached") else 0
    else:  # stopped at the root of identity
        counts = rows[(root_agency(), purpose)]
        counts["reads"] += 1
        counts["refused"] += 1 if detail.get("outcome", "ok") != "ok" else 0


def build(engine: Engine, client: Any, start: dt.date, end: dt.date, now: dt.datetime | None = None) -> dict[str, Any]:
    """The report of `client` (a core.db.models.Client) for [start, end]."""
    anchor, table = count(engine, client.name, start, end)
    totals = {
        key: sum(row[key] for row in table)
        for key in ("reads", "from_cache", "refused", "verifications", "submissions")
    }
    return {
        "report": "usage",
        "client": client.name,
        "kind": client.kind,
        "agreement": {
            "reference": client.agreement,
            "valid_from": client.agreement_from.isoformat() if client.agreement_from else None,
            "valid_to": client.agreement_to.isoformat() if client.agreement_to else None,
        },
        "period": {"from": start.isoformat(), "to": end.isoformat(), "timezone": "WIB (UTC+07:00)"},
        "generated_at": (now or utcnow()).isoformat(timespec="seconds"),
        "audit_log": anchor,
        "rows": table,
        "totals": totals,
    }


def sign_report(report: dict[str, Any], signer: note.Signer) -> str:
    """The report as a signed note."""
    text = HEADER + "\n" + json.dumps(report, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
    return note.sign(text, signer)


def verify_report(signed: str, vkey: str) -> dict[str, Any]:
    """The report inside a signed note, if the audit key `vkey` signed it; ReportError otherwise."""
    try:
        opened = note.open_note(signed, vkey)
    except note.NoteError as exc:
        raise ReportError(f"the signature does not verify: {exc}") from None
    header, _, body = opened.text.partition("\n")
    if header != HEADER:
        raise ReportError("not a Gerbang usage report")
    try:
        return json.loads(body)
    except ValueError:
        raise ReportError("the report body is not JSON") from None
