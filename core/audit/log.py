"""The audit log's write side: `record()` inside the caller's transaction, then one sequencer.

Why two steps: many API and worker processes write entries, but a Merkle log needs one order. `record()` only
inserts an unsequenced row (`audit_pending`) in the caller's transaction, so the entry commits or rolls back with
the change it records and costs no lock. `sequence()` — run every ~200 ms in every process and on demand before an
auditor query — takes the log's lock (an UPDATE of the single `audit_state` row: a row lock on PostgreSQL, the
writer lock on SQLite), moves pending rows in id order into `audit_entry` with dense leaf indexes, canonical
bytes and leaf hashes, stores the new complete-subtree hashes, and signs a checkpoint every N entries or T
seconds, after checking it extends the previous one. Whoever holds the lock is the sequencer; a process dying
at any point loses nothing (its committed pending rows wait for the next run; its uncommitted work rolls back).

`append_many()` is the batch path for entries that belong to no other transaction: it checks a batch outside the
lock, then runs one sequencer round that takes the batch as well as what is pending, so each entry is written
once (no pending row to insert, read back and delete). Rows go in through the driver (COPY on PostgreSQL,
executemany on SQLite), not SQLAlchemy's per-row parameter processing.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import rfc8785
from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.orm import Session

from connectors import tracing
from core.audit import note, store
from core.audit.checkpoint import Checkpoint, sign_checkpoint
from core.audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    ProofError,
    fold,
    verify_consistency,
)
from core.audit.models import checkpoint_table, pending_table, state_table
from core.db.bulk import bulk_insert, driver_connection

ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
NAME_MAX = {"client": 100, "agency": 64}
SUBJECT_RE = re.compile(r"^[0-9a-f]{64}$")


def now_us() -> int:
    """Microseconds since the Unix epoch (UTC): the entry's `time`."""
    return time.time_ns() // 1000


_SAFE_INT = 2**53  # RFC 8785 (I-JSON) integers are exact only below this
_MAX_VALUES = 100_000
# The C encoder built once (json.dumps builds one per call, half its cost for a small object). No circular-
# reference markers: it only ever sees objects `_plain` walked completely, which are finite trees of plain values.
_C_MAKE_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)  # private to the json module: undeclared
try:
    _c_encode = _C_MAKE_ENCODER(None, None, json.encoder.encode_basestring, None, ":", ",", True, False, False)
except TypeError:  # no C accelerator, or another signature: json.dumps does the same, slower
    _c_encode = None


def _plain_text(obj: Any) -> str:
    if _c_encode is not None:
        return "".join(_c_encode(obj, 0))
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _plain(obj: Any) -> bool:
    """True if `json.dumps(obj, sort_keys=True)` already is RFC 8785: no floats (ES6 number formatting differs),
    integers JSON can carry exactly, and keys whose code-point order equals UTF-16 order (below U+D800).

    An explicit stack rather than recursion: this runs once per recorded entry, and a call per value cost more
    than encoding the entry."""
    stack = [obj]
    pop, push, extend = stack.pop, stack.append, stack.extend
    budget = _MAX_VALUES  # a cyclic or absurdly large detail goes to the reference encoder, which refuses it
    while stack:
        budget -= 1
        if budget < 0:
            return False
        o = pop()
        t = type(o)
        if t is str or t is bool or o is None:
            continue
        if t is int:
            if not -_SAFE_INT < o < _SAFE_INT:
                return False
            continue
        if t is dict:
            for k, v in o.items():
                if type(k) is not str or not (k.isascii() or max(k) < "\ud800"):
                    return False
                if type(v) is not str:
                    push(v)
            continue
        if t is list or t is tuple:
            extend(o)
            continue
        return False
    return True


def canonical_detail(detail: Mapping[str, Any] | None) -> str | None:
    """RFC 8785 text of a detail object, or None when empty. Raises ValueError for what JSON cannot carry.

    The common case (strings, small integers, booleans, lists, objects) goes through the C JSON encoder, whose
    output is then already canonical; anything else (floats, odd keys) through the reference encoder.
    """
    if not detail:
        return None
    if type(detail) is dict:
        obj = detail
    elif isinstance(detail, Mapping):
        obj = dict(detail)
    else:
        raise ValueError("audit detail must be a mapping")  # noqa: TRY004  (one error type for callers)
    try:
        if _plain(obj):
            text = _plain_text(obj)
            if not text.isascii():
                text.encode("utf-8")  # lone surrogates cannot be logged
            return text
        return rfc8785.dumps(obj).decode("utf-8")
    except (rfc8785.CanonicalizationError, TypeError, ValueError, UnicodeError) as exc:
        raise ValueError(f"audit detail is not canonical JSON: {exc}") from None


_GOOD_ACTIONS: set[str] = set()


def _row(
    action: str, client: str | None, subject: str | None, agency: str | None, detail: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A checked `audit_pending` row: a bad entry fails the caller now, never the sequencer later."""
    if type(action) is not str or action not in _GOOD_ACTIONS:  # a few actions recur: check each once
        if not isinstance(action, str) or len(action) > 64 or not ACTION_RE.fullmatch(action):
            raise ValueError(f"audit action must be a dotted lower-case name, got {action!r}")
        if len(_GOOD_ACTIONS) < 1024:
            _GOOD_ACTIONS.add(action)
    if subject is not None and not (isinstance(subject, str) and SUBJECT_RE.fullmatch(subject)):
        raise ValueError("audit subject must be a keyed hash (64 hex digits from subject_hash), never a NIK")
    for name, value in (("client", client), ("agency", agency)):
        if value is not None and (not isinstance(value, str) or not value or len(value) > NAME_MAX[name]):
            raise ValueError(f"audit {name} must be a non-empty string of at most {NAME_MAX[name]} characters")
    return {
        "time_us": now_us(),
        "action": action,
        "client": client,
        "subject": subject,
        "agency": agency,
        "detail": canonical_detail(detail),
    }


PENDING_COLUMNS = ("time_us", "action", "client", "subject", "agency", "detail")


def _insert_pending(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Rows from `_row()` into `audit_pending` through `conn`'s own transaction, at driver speed: COPY (or one
    statement) on PostgreSQL, executemany on SQLite. SQLAlchemy's per-row parameter processing cost more than
    checking and encoding the entries; the rows are durable exactly when the caller's transaction commits."""
    if not rows:
        return
    values = [(r["time_us"], r["action"], r["client"], r["subject"], r["agency"], r["detail"]) for r in rows]
    _bulk_insert(conn, "audit_pending", PENDING_COLUMNS, values)


def record(
    session: Session,
    action: str,
    *,
    client: str | None = None,
    subject: str | None = None,
    agency: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Write one audit entry in `session`'s transaction: it commits or rolls back with the change it records.

    - `action`: dotted lower-case name, e.g. `citizen.read`, `citizen.verify`, `application.accepted`,
      `application.submitted`, `callback.delivered`, `admin.client_created`, `audit.query`.
    - `client`: the API client's name (who acted), if any. `agency`: the agency concerned, if any.
    - `subject`: the citizen as a keyed hash — `identity.secrecy.subject_hash(nik_hash_key, nik)` — never a NIK.
    - `detail`: small JSON object (what was asked, statuses, ids). No NIK, no names, no record contents.

    The row goes into `audit_pending` at once, through the session's connection (no ORM unit of work, no
    autoflush of the caller's objects); nothing is hashed or locked — the entry gets its leaf index when the
    sequencer runs (`sequence()`). The caller commits. Raises ValueError at once for a malformed action,
    subject or detail, so a bad entry fails the caller's transaction rather than ever blocking the sequencer.
    """
    row = _row(action, client, subject, agency, detail)  # checked before the session is touched
    with tracing.span("audit append", {"gerbang.audit.action": action}, leaf=True):
        _insert_pending(session.connection(), [row])


def record_many(session: Session, entries: Iterable[Mapping[str, Any]]) -> int:
    """`record()` for a batch (e.g. one callback batch's outcomes): one multi-row insert. Each mapping holds
    `action` and optionally `client`, `subject`, `agency`, `detail`. Returns how many were recorded."""
    rows = [_row(e["action"], e.get("client"), e.get("subject"), e.get("agency"), e.get("detail")) for e in entries]
    if rows:
        with tracing.span("audit append", {"gerbang.audit.entries": len(rows)}, leaf=True):
            _insert_pending(session.connection(), rows)
    return len(rows)


def prepare(
    action: str,
    *,
    client: str | None = None,
    subject: str | None = None,
    agency: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A checked pending-entry row for `insert_prepared` (ValueError at once, as `record()`): lets a caller validate
    on its own and write later in a shared transaction (see `core/audit/group.py`)."""
    return _row(action, client, subject, agency, detail)


def insert_prepared(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert rows from `prepare()` in `session`'s transaction, as one statement."""
    if rows:
        _insert_pending(session.connection(), rows)


@functools.lru_cache(maxsize=256)
def _second(s: int) -> str:
    t = dt.datetime.fromtimestamp(s, tz=dt.UTC)  # not strftime("%Y"): glibc writes year 1 as "1", not "0001"
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"


def format_time(us: int) -> str:
    """RFC 3339 UTC with microseconds, fixed width: `2026-01-02T03:04:05.123456Z`."""
    s, frac = divmod(us, 1_000_000)
    return f"{_second(s)}.{frac:06d}Z"


# --- entry bytes ------------------------------------------------------------------------------

_NODE = b"\x01"
_LEAF = b"\x00"


@functools.lru_cache(maxsize=4096)
def _js(value: str) -> bytes:
    """RFC 8785 encoding of one string (memoised: actions, clients and agencies repeat; printable ASCII without
    quote or backslash — every subject hash — needs no escaping at all)."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return b'"' + value.encode("ascii") + b'"'
    return rfc8785.dumps(value)


def entry_bytes(
    index: int,
    time_us: int,
    action: str,
    client: str | None,
    subject: str | None,
    agency: str | None,
    detail: str | None,
) -> bytes:
    """The canonical (RFC 8785) bytes of a sequenced entry, composed without a generic encoder.

    Members in code-unit order — action, agency, client, detail, index, subject, time — absent ones left out;
    every piece is canonical on its own (`detail` was canonicalised by `record()`), so the concatenation is
    exactly `rfc8785.dumps(entry)`; tests hold the two equal.
    """
    parts = [b'{"action":', _js(action)]
    if agency is not None:
        parts += [b',"agency":', _js(agency)]
    if client is not None:
        parts += [b',"client":', _js(client)]
    if detail is not None:
        parts += [b',"detail":', detail.encode("utf-8")]
    parts += [b',"index":', str(index).encode("ascii")]
    if subject is not None:
        parts += [b',"subject":', _js(subject)]
    parts += [b',"time":"', format_time(time_us).encode("ascii"), b'"}']
    return b"".join(parts)


# --- the sequencer ----------------------------------------------------------------------------

log = logging.getLogger(__name__)
BATCH = 5000


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
    rows = [_row(e["action"], e.get("client"), e.get("subject"), e.get("agency"), e.get("detail")) for e in entries]
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
            h, i, level = leaf, size, 0
            while i & 1:
                h = sha(_NODE + stack.pop() + h).digest()
                i >>= 1
                level += 1
                nodes.append((level, i, h))
            stack.append(h)
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
    "audit_pending": ("int8", "text", "text", "text", "text", "text"),
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
