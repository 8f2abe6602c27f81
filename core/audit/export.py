"""Exports of the audit log: `gerbang-audit-bundle/v1` documents (docs/audit-format.md §5), which
core/audit/bundle.py verifies offline.

`build_bundle` assembles one in memory from any `TreeStore`; `export_chunks` streams one from the database page
by page, so a million-entry export never sits in memory. Both carry the same content.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from core.audit import merkle, note, store
from core.audit.bundle import FORMAT
from core.audit.checkpoint import Checkpoint
from core.audit.merkle import TreeStore
from core.audit.models import entry_table

EXPORT_PAGE = 5000  # entries per query of a streamed export


def _b64(b: bytes) -> str:
    return binascii.b2a_base64(b, newline=False).decode("ascii")


def build_bundle(
    *,
    checkpoint: str,
    store: TreeStore,
    start: int,
    entries: Sequence[bytes],
    checkpoints: Iterable[str] = (),
    consistency_from: Iterable[int] = (),
    include_hashes: bool = True,
) -> dict[str, Any]:
    """Assemble a bundle for entries `[start, start + len(entries))` against a signed checkpoint.

    `store` holds the log's perfect-subtree hashes up to at least the checkpoint's size; the
    signed notes in `checkpoints` should have sizes within the range (others are skipped);
    `consistency_from` lists older tree sizes the auditor may hold.
    """
    text, _ = note.parse(checkpoint)
    cp = Checkpoint.parse(text)
    end = start + len(entries)
    if not 0 <= start <= end <= cp.size:
        raise ValueError(f"range [{start}, {end}) is not inside the checkpoint's {cp.size} entries")
    subtree = merkle.store_subtree(store)
    rows: list[dict[str, Any]] = []
    for i, data in enumerate(entries, start):
        row: dict[str, Any] = {"index": i, "data": _b64(data)}
        if include_hashes:
            row["hash"] = _b64(store.node(0, i))
        rows.append(row)
    inner = []
    for signed in checkpoints:
        size = Checkpoint.parse(note.parse(signed)[0]).size
        if start <= size <= end:
            inner.append((size, signed))
    inner.sort(key=lambda pair: pair[0])
    proofs = []
    for m in sorted(set(consistency_from)):
        if 0 < m < cp.size and not start <= m <= end:
            proofs.append({"size": m, "proof": [_b64(h) for h in merkle.consistency_proof(m, cp.size, subtree)]})
    bundle: dict[str, Any] = {
        "format": FORMAT,
        "origin": cp.origin,
        "checkpoint": checkpoint,
        "start": start,
        "end": end,
        "prefix": [_b64(store.node(lv, ix)) for lv, ix in merkle.prefix_nodes(start)],
        "suffix": [_b64(store.node(lv, ix)) for lv, ix in merkle.suffix_nodes(end, cp.size)],
        "entries": rows,
    }
    if inner:
        bundle["checkpoints"] = [signed for _, signed in inner]
    if proofs:
        bundle["consistency"] = proofs
    return bundle


def dumps(bundle: Mapping[str, Any]) -> str:
    """Bundle as JSON text (one document, UTF-8, no insignificant whitespace)."""
    return json.dumps(bundle, separators=(",", ":"), ensure_ascii=False)


def export_chunks(
    conn: Connection, start: int, end: int, checkpoint: Any, consistency_from: Iterable[int] = ()
) -> Iterator[str]:
    """Stream a `gerbang-audit-bundle/v1` (docs/audit-format.md §5) for entries [start, end) against the
    checkpoint row given, page by page, so a million-entry export never sits in memory.

    Same content as `build_bundle`: prefix/suffix hashes, entries with their recorded leaf hashes,
    every signed checkpoint inside the range, and consistency proofs from the requested older sizes.
    """
    size = checkpoint.size
    if not 0 <= start <= end <= size:
        raise ValueError(f"range [{start}, {end}) is not inside the checkpoint's {size} entries")
    tree = store.DbTreeStore(conn)
    prefix, suffix = merkle.prefix_nodes(start), merkle.suffix_nodes(end, size)
    tree.prefetch([*prefix, *suffix])
    origin = checkpoint.note.split("\n", 1)[0]
    head = {
        "format": FORMAT,
        "origin": origin,
        "checkpoint": checkpoint.note,
        "start": start,
        "end": end,
        "prefix": [_b64(tree.node(lv, ix)) for lv, ix in prefix],
        "suffix": [_b64(tree.node(lv, ix)) for lv, ix in suffix],
    }
    proofs = [
        {"size": m, "proof": [_b64(h) for h in store.consistency_proof(conn, m, size)]}
        for m in sorted(set(consistency_from))
        if 0 < m < size and not start <= m <= end
    ]
    tail: dict[str, Any] = {}
    inner = store.checkpoint_notes(conn, start, end)
    if inner:
        tail["checkpoints"] = inner
    if proofs:
        tail["consistency"] = proofs
    yield json.dumps(head, separators=(",", ":"))[:-1] + ',"entries":['
    e = entry_table.c
    first = True
    for pos in range(start, end, EXPORT_PAGE):  # indexes are dense: a page is an index range, no LIMIT/sort
        rows = conn.execute(
            select(e.leaf_index, e.data, e.leaf_hash)
            .where(e.leaf_index >= pos, e.leaf_index < min(pos + EXPORT_PAGE, end))
            .order_by(e.leaf_index)
        ).all()
        if not rows:
            continue
        parts = [f'{{"index":{index},"data":"{_b64(data)}","hash":"{_b64(h)}"}}' for index, data, h in rows]
        yield ("" if first else ",") + ",".join(parts)
        first = False
    yield "]" + ("," + json.dumps(tail, separators=(",", ":"))[1:] if tail else "}")
