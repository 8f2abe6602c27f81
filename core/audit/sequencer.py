"""The audit log's sequencer: the one writer that gives entries their order, their tree and their checkpoints.

`sequence()` — run every ~200 ms in every process and on demand before an auditor query — takes the log's lock (an
UPDATE of the single `audit_state` row: a row lock on PostgreSQL, the writer lock on SQLite), moves pending rows
(core/audit/log.py: `record()`) in id order into `audit_entry` with dense leaf indexes, canonical bytes and leaf
hashes, stores the new complete-subtree hashes, and signs a checkpoint every N entries or T seconds, after checking
it extends the previous one. Whoever holds the lock is the sequencer; a process dying at any point loses nothing
(its committed pending rows wait for the next run; its uncommitted work rolls back).

`append_many()` is the batch path for entries that belong to no other transaction: it checks a batch outside the
lock, then runs one sequencer round that takes the batch as well as what is pending, so each entry is written
once (no pending row to insert, read back and delete).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from core.audit import note, store
from core.audit.checkpoint import Checkpoint, sign_checkpoint
from core.audit.compact_range import CompactRange
from core.audit.compact_range import append as append_node
from core.audit.entry import entry_bytes, now_us
from core.audit.log import checked_rows
from core.audit.merkle import EMPTY_ROOT, HASH_SIZE, LEAF_PREFIX, ProofError, fold, verify_consistency
from core.audit.models import checkpoint_table, pending_table, state_table
from core.db.bulk import bulk_insert, driver_connection

log = logging.getLogger(__name__)
BATCH = 5000
_LEAF = LEAF_PREFIX


class SequencerError(RuntimeError):
    """The sequencer refused to go on (e.g. the stored tree no longer extends the last signed checkpoint)."""


@dataclass
class Sequenced:
    """What one `sequence()` call did."""

    sequenced: int = 0
    size: int = 0
    signed: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Policy:
    """When to sign: every `every` entries or `interval_s` seconds (whichever first); `batch` rows per lock."""

    every: int = 1000
    interval_s: float = 10.0
    batch: int = BATCH


def _split_frontier(blob: bytes) -> list[bytes]:
    return [bytes(blob[i : i + HASH_SIZE]) for i in range(0, len(blob), HASH_SIZE)]


def _due(size: int, cp_size: int | None, cp_us: int | None, policy: Policy, force: bool, now: int) -> bool:
    """A time- or demand-triggered checkpoint is due at `size`."""
    if cp_size is None:
        return force or size > 0
    if size <= cp_size:
        return False
    return force or cp_us is None or now - cp_us >= policy.interval_s * 1_000_000


def _idle(conn: Connection, policy: Policy, force: bool) -> int | None:
    """The tree size if there is nothing to do, decided without the lock (so idle processes do not write every
    200 ms); None if a locked round is needed."""
    state = conn.execute(
        select(state_table.c.size, state_table.c.checkpoint_size, state_table.c.checkpoint_us).where(
            state_table.c.id == 1
        )
    ).one()
    if conn.execute(select(pending_table.c.id).limit(1)).first() is not None:
        return None
    if _due(state.size, state.checkpoint_size, state.checkpoint_us, policy, force, now_us()):
        return None
    return int(state.size)


def sequence(
    engine: Engine,
    signer: note.Signer,
    policy: Policy = Policy(),
    *,
    force_checkpoint: bool = False,
    max_rounds: int | None = None,
) -> Sequenced:
    """Sequence every pending entry (in rounds of `policy.batch`, each its own transaction under the lock) and
    sign the checkpoints that are due. `force_checkpoint`: also sign one now if the latest does not cover the
    whole tree (auditor queries use it so they see everything recorded before them). Safe to call from any
    number of threads and processes at once."""
    result = Sequenced()
    with engine.connect() as conn:
        idle = _idle(conn, policy, force_checkpoint)
        conn.rollback()
    if idle is not None:
        result.size = idle
        return result
    rounds = 0
    while True:
        with engine.begin() as conn:
            n = _round(conn, signer, policy, force_checkpoint, result)
        rounds += 1
        if n < policy.batch or (max_rounds is not None and rounds >= max_rounds):
            return result


def append_many(
    engine: Engine, signer: note.Signer, entries: Iterable[Mapping[str, Any]], policy: Policy = Policy()
) -> Sequenced:
    """Append a batch of entries to the log at once: checked and encoded, then — in one transaction under the
    log's lock, i.e. as the sequencer — given leaf indexes, hashed, written to `audit_entry` with their new
    subtree hashes, and covered by the checkpoints that fall due (after whatever was already pending).

    For entries that belong to no other transaction (a batch of reads, an import); `record_many` is the way to
    log inside the caller's transaction. Nothing passes through `audit_pending`, so each entry is written once,
    not inserted, read back, rewritten and deleted. Durable and sequenced when it returns; raises ValueError
    before taking the lock if any entry is malformed (then nothing is written)."""
    rows = checked_rows(entries)
    result = Sequenced()
    if not rows:
        return result
    with engine.begin() as conn:
        _round(conn, signer, policy, False, result, rows)
    return result


def _round(
    conn: Connection,
    signer: note.Signer,
    policy: Policy,
    force: bool,
    result: Sequenced,
    extra: Sequence[Mapping[str, Any]] = (),
) -> int:
    """One locked round: sequence up to `policy.batch` pending entries, then the checked rows of `extra` (from
    `append_many`, never stored as pending), sign what is due, move the state on. Returns how many pending
    entries it took."""
    # The lock: the first statement writes the single state row (row lock on PostgreSQL, writer lock on SQLite).
    conn.execute(update(state_table).where(state_table.c.id == 1).values(runs=state_table.c.runs + 1))
    state = conn.execute(select(state_table).where(state_table.c.id == 1)).one()
    cr = CompactRange(state.size, _split_frontier(state.frontier))
    cp_size, cp_us = state.checkpoint_size, state.checkpoint_us
    prev: Any = (  # the last checkpoint's row, then each one signed below (a _Prev)
        None
        if cp_size is None
        else conn.execute(
            select(checkpoint_table.c.size, checkpoint_table.c.root, checkpoint_table.c.note).where(
                checkpoint_table.c.size == cp_size
            )
        ).one()
    )
    if prev is not None and cp_size == cr.size and prev.root != cr.root():
        raise SequencerError(f"the stored tree no longer matches the checkpoint at size {cp_size}; not signing")

    rows = conn.exec_driver_sql(  # plain driver rows: SQLAlchemy's row processing would cost more than hashing
        "SELECT id, time_us, action, client, subject, agency, detail FROM audit_pending ORDER BY id LIMIT "
        f"{int(policy.batch)}"
    ).fetchall()
    todo: Sequence[Any] = rows
    if extra:
        todo = [
            *rows,
            *((None, r["time_us"], r["action"], r["client"], r["subject"], r["agency"], r["detail"]) for r in extra),
        ]
    nodes: list[tuple[int, int, bytes]] = []
    due: list[tuple[int, bytes]] = []
    if cp_size is None and cr.size == 0:  # a new log starts with its signed empty tree: the time base of T
        due.append((0, EMPTY_ROOT))
        cp_size, cp_us = 0, now_us()
    base = cp_size or 0
    stack = cr.hashes
    every = policy.every

    def keep(level: int, index: int, hash_: bytes) -> None:
        nodes.append((level, index, hash_))

    def sequenced() -> Iterator[tuple[Any, ...]]:
        """The `audit_entry` rows, computed as the database takes them (on PostgreSQL the server indexes one
        COPY chunk while the next is hashed), collecting new subtree hashes and due checkpoints on the way."""
        nonlocal base
        sha = hashlib.sha256
        size = cr.size
        for _id, time_us, action, client, subject, agency, detail in todo:
            data = entry_bytes(size, time_us, action, client, subject, agency, detail)
            leaf = sha(_LEAF + data).digest()
            yield size, time_us, action, client, subject, agency, data, leaf
            append_node(stack, size, leaf, 0, keep)
            size += 1
            cr.size = size
            if every and size - base >= every:
                due.append((size, fold(stack)))
                base = size

    _bulk_insert(conn, "audit_entry", ENTRY_COLUMNS, sequenced(), len(todo))
    size = cr.size
    now = now_us()
    if _due(size, due[-1][0] if due else cp_size, now if due else cp_us, policy, force, now):
        due.append((size, cr.root()))
    _bulk_insert(conn, "audit_node", NODE_COLUMNS, nodes)
    _delete_pending(conn, [row[0] for row in rows])

    if due and prev is not None:
        _check_same_key(prev.note, signer)
    for new_size, new_root in due:
        _check_extends(conn, prev, new_size, new_root)
        text = sign_checkpoint(Checkpoint(signer.name, new_size, new_root), signer)
        conn.execute(insert(checkpoint_table).values(size=new_size, root=new_root, note=text, signed_us=now))
        prev = _Prev(new_size, new_root)
        cp_size, cp_us = new_size, now
        result.signed.append(new_size)

    conn.execute(
        update(state_table)
        .where(state_table.c.id == 1)
        .values(size=size, frontier=b"".join(stack), checkpoint_size=cp_size, checkpoint_us=cp_us)
    )
    result.sequenced += len(todo)
    result.size = size
    return len(rows)


ENTRY_COLUMNS = ("leaf_index", "time_us", "action", "client", "subject", "agency", "data", "leaf_hash")
NODE_COLUMNS = ("level", "idx", "hash")
_PG_TYPES = {  # the PostgreSQL types of the columns `_bulk_insert` writes (migration 0003), for binary COPY
    "audit_entry": ("int8", "int8", "text", "text", "text", "text", "bytea", "bytea"),
    "audit_node": ("int2", "int8", "bytea"),
}


def _bulk_insert(
    conn: Connection, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]], count: int | None = None
) -> None:
    bulk_insert(conn, table, columns, rows, _PG_TYPES[table], count)


def _delete_pending(conn: Connection, ids: list[int]) -> None:
    """Remove exactly the rows just sequenced. On SQLite the writer lock, held since the round began, means no
    row below the largest id can have appeared unseen, so a range is exact; on PostgreSQL concurrent
    transactions may commit lower ids at any moment, so the ids are listed."""
    if not ids:
        return
    if conn.dialect.name == "postgresql":
        with driver_connection(conn).cursor() as cur:
            cur.execute("DELETE FROM audit_pending WHERE id = ANY(%s)", (ids,))
        return
    conn.execute(delete(pending_table).where(pending_table.c.id <= max(ids)))


@dataclass(frozen=True)
class _Prev:
    size: int
    root: bytes


def _check_same_key(previous_note: str, signer: note.Signer) -> None:
    """One log, one key: refuse to continue a log whose last checkpoint another key signed (a process
    configured with the wrong key would otherwise start a second, unrelated history in the same table)."""
    try:
        note.open_note(previous_note, signer.verifier)
    except note.NoteError:
        raise SequencerError(
            f"the log's checkpoints are not signed by this process's key {signer.verifier.vkey}; "
            "every process must use the log's signing key"
        ) from None


def _check_extends(conn: Connection, prev: Any, size: int, root_: bytes) -> None:
    """Refuse to sign (size, root) unless the stored tree proves it extends the previous signed checkpoint."""
    if prev is None or prev.size == 0:
        return
    if prev.size == size:
        if prev.root != root_:
            raise SequencerError(f"two different roots at size {size}; not signing")
        return
    try:
        proof = store.consistency_proof(conn, prev.size, size, check_size=False)
        verify_consistency(prev.size, size, prev.root, root_, proof)
    except (ProofError, store.StoreError) as exc:
        raise SequencerError(f"the tree at size {size} does not extend the checkpoint at {prev.size}: {exc}") from None


# --- running it in a process ------------------------------------------------------------------


class Sequencer:
    """The sequencer of one process: a daemon thread every `interval_s`, plus `run()` on demand.

    Every API/worker process may run one; the database lock makes them take turns, so it does not matter
    which of them sequences a given entry.
    """

    def __init__(self, engine: Engine, signer: note.Signer, policy: Policy = Policy(), interval_s: float = 0.2):
        self.engine, self.signer, self.policy, self.interval_s = engine, signer, policy, interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, engine: Engine, settings: Any) -> Sequencer:
        """The sequencer a process should run (API, worker): key and policy from settings. Not started.
        Raises ValueError when no signing key is configured for a shared database."""
        from core.audit.signer import load_signer

        policy = Policy(every=settings.audit_checkpoint_entries, interval_s=settings.audit_checkpoint_interval_s)
        return cls(engine, load_signer(settings), policy, settings.audit_sequencer_interval_s)

    def run(self, *, force_checkpoint: bool = False) -> Sequenced:
        """Sequence now (and, forced, sign a checkpoint covering everything sequenced)."""
        with self._lock:
            return sequence(self.engine, self.signer, self.policy, force_checkpoint=force_checkpoint)

    def _loop(self) -> None:
        failures = 0
        while not self._stop.wait(self.interval_s if not failures else min(5.0, self.interval_s * 2**failures)):
            try:
                self.run()
                failures = 0
            except Exception as exc:  # noqa: BLE001  (keep the thread alive; the next run retries, nothing is lost)
                failures = min(failures + 1, 8)
                log.error("audit sequencer run failed (%s): %s", type(exc).__name__, exc)

    def start(self) -> Sequencer:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="audit-sequencer", daemon=True)
            self._thread.start()
        return self

    def stop(self, *, drain: bool = True) -> None:
        """Stop the thread; `drain` sequences what this process recorded before it exits."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if drain:
            try:
                self.run()
            except Exception as exc:  # noqa: BLE001  (shutting down: log, never raise)
                log.error("audit sequencer final run failed (%s): %s", type(exc).__name__, exc)
