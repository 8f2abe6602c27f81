"""Offline verification of an audit export ("bundle"), trusting nothing but the log's public key.

A bundle carries a signed checkpoint, a contiguous range of entries `[start, end)`, and just enough
hashes to recompute the checkpoint's root from them: the compact range of `[0, start)` (`prefix`)
and the perfect subtrees covering `[end, size)` (`suffix`). Recomputing the root proves every
entry, its position and that none is missing — stronger than per-entry inclusion proofs and
O(log n) extra bytes. Optional extras pinpoint damage and link to what the auditor already holds:
each entry's recorded leaf hash, the log's intermediate signed checkpoints inside the range,
and consistency proofs from older tree sizes. The format is documented in docs/audit-format.md.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.audit import merkle, note
from core.audit.checkpoint import Checkpoint, CheckpointError, check_consistent
from core.audit.compact_range import CompactRange
from core.audit.compact_range import append as append_node
from core.audit.merkle import ConsistencyError

FORMAT = "gerbang-audit-bundle/v1"

_LEAF = merkle.LEAF_PREFIX


class BundleError(ValueError):
    """Why a bundle failed, and where.

    kind: "format" (not a readable bundle), "signature" (a checkpoint is not signed by the key),
    "entry" (entries altered, deleted or reordered: `index` is the first bad index; when the
    bundle only allows narrowing it down, `upto` is the exclusive end of the interval that
    holds it), "proof" (the bundle's own proof hashes are wrong), "consistency" (the log signed
    two checkpoints that cannot both be true, or the earlier checkpoint cannot be linked).
    """

    def __init__(self, kind: str, message: str, index: int | None = None, upto: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.index = index
        self.upto = upto

    @property
    def where(self) -> str:
        if self.kind != "entry" or self.index is None:
            return self.kind
        if self.upto is None or self.upto <= self.index + 1:
            return f"index {self.index}"
        return f"index {self.index}..{self.upto - 1}"

    def __str__(self) -> str:
        return f"{self.where}: {self.args[0]}"


@dataclass(frozen=True)
class Verified:
    """What a successful verification established."""

    checkpoint: Checkpoint
    start: int
    end: int
    checkpoints_checked: int = 0
    earlier_size: int | None = None

    @property
    def origin(self) -> str:
        return self.checkpoint.origin

    @property
    def count(self) -> int:
        return self.end - self.start


# --- verifying --------------------------------------------------------------------------------


def _fmt(msg: str) -> BundleError:
    return BundleError("format", msg)


def _hash_list(b: Mapping[str, Any], key: str, count: int) -> list[bytes]:
    raw = b.get(key, [])
    if not isinstance(raw, list):
        raise _fmt(f"'{key}' must be a list of base64 hashes")
    if len(raw) != count:
        raise BundleError("proof", f"'{key}' must hold {count} hashes for this range, it holds {len(raw)}")
    out = []
    for i, s in enumerate(raw):
        h = _unb64(s)
        if h is None or len(h) != merkle.HASH_SIZE:
            raise BundleError("proof", f"{key}[{i}] is not a base64 32-byte hash")
        out.append(h)
    return out


def _unb64(s: object) -> bytes | None:
    if not isinstance(s, str):
        return None
    try:
        return binascii.a2b_base64(s, strict_mode=True)
    except (binascii.Error, ValueError):
        return None


def _load(bundle: Mapping[str, Any] | str | bytes) -> Mapping[str, Any]:
    if isinstance(bundle, (str, bytes, bytearray)):
        try:
            bundle = json.loads(bundle)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _fmt(f"bundle is not JSON: {exc}") from None
        except RecursionError:
            raise _fmt("bundle is not JSON a bundle can be: nested too deeply") from None
    if not isinstance(bundle, Mapping):
        raise _fmt("a bundle is a JSON object")
    if bundle.get("format") != FORMAT:
        raise _fmt(f"unknown bundle format {bundle.get('format')!r}; expected {FORMAT!r}")
    return bundle


def _open(signed: object, verifier: note.Verifier, what: str) -> Checkpoint:
    if not isinstance(signed, str):
        raise _fmt(f"{what} must be signed note text")
    try:
        return Checkpoint.parse(note.open_note(signed, verifier).text)
    except note.NoteError as exc:
        raise BundleError("signature", f"{what}: {exc}") from None
    except CheckpointError as exc:
        raise _fmt(f"{what}: {exc}") from None


def _int(b: Mapping[str, Any], key: str) -> int:
    v = b.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise _fmt(f"'{key}' must be a non-negative integer")
    return v


@dataclass
class _Anchor:
    """A root the verifier trusts at some size: a signed intermediate checkpoint or the auditor's own."""

    size: int
    root: bytes
    label: str
    ok: bool | None = None


def verify(
    bundle: Mapping[str, Any] | str | bytes,
    vkey: str | note.Verifier,
    earlier_checkpoint: str | Checkpoint | None = None,
) -> Verified:
    """Verify an export offline. Returns Verified, or raises BundleError naming what and where.

    `vkey` is the log's note verifier key; its name must be the bundle's origin.
    `earlier_checkpoint` is one the auditor kept from before (signed note text, or a Checkpoint
    already trusted): the bundle's checkpoint must extend it.
    """
    b = _load(bundle)
    verifier = note.parse_verifier(vkey) if isinstance(vkey, str) else vkey
    origin = b.get("origin")
    if origin != verifier.name:
        raise BundleError("signature", f"bundle origin {origin!r} is not the key's name {verifier.name!r}")
    cp = _open(b.get("checkpoint"), verifier, "checkpoint")
    if cp.origin != origin:
        raise BundleError("signature", f"checkpoint origin {cp.origin!r} is not {origin!r}")

    start, end = _int(b, "start"), _int(b, "end")
    if not start <= end <= cp.size:
        raise _fmt(f"range [{start}, {end}) is not inside the checkpoint's {cp.size} entries")
    rows = b.get("entries")
    if not isinstance(rows, list):
        raise _fmt("'entries' must be a list")
    prefix = _hash_list(b, "prefix", start.bit_count())
    suffix_at = merkle.suffix_nodes(end, cp.size)
    suffix = _hash_list(b, "suffix", len(suffix_at))

    anchors: list[_Anchor] = []
    inner = b.get("checkpoints", [])
    if not isinstance(inner, list):
        raise _fmt("'checkpoints' must be a list of signed notes")
    for n, signed in enumerate(inner):
        icp = _open(signed, verifier, f"checkpoints[{n}]")
        if not start <= icp.size <= end:
            raise _fmt(f"checkpoints[{n}] has size {icp.size}, outside the range [{start}, {end}]")
        anchors.append(_Anchor(icp.size, icp.root_hash, f"the log's checkpoint at size {icp.size}"))

    earlier: Checkpoint | None = None
    if earlier_checkpoint is not None:
        earlier = (
            _open(earlier_checkpoint, verifier, "earlier checkpoint")
            if isinstance(earlier_checkpoint, str)
            else earlier_checkpoint
        )
        if earlier.origin != cp.origin:
            raise BundleError("consistency", f"earlier checkpoint is for origin {earlier.origin!r}")
        if earlier.size > cp.size:
            raise BundleError(
                "consistency",
                f"earlier checkpoint (size {earlier.size}) is newer than the bundle's ({cp.size}): export again",
            )
        if start <= earlier.size <= end:
            anchors.append(_Anchor(earlier.size, earlier.root_hash, f"your checkpoint at size {earlier.size}"))
    anchors.sort(key=lambda a: a.size)

    # One pass over the entries: structure, per-entry recorded hashes, and every anchor on the way.
    cr = CompactRange(start, prefix)
    listed: CompactRange | None = None  # recorded-hash tree, forked at the first data/hash mismatch
    first_mismatch: int | None = None
    broken: tuple[int, str] | None = None
    k = 0
    next_check = anchors[0].size if anchors else -1

    def check_anchors() -> None:
        nonlocal k, next_check
        r = cr.root()
        while k < len(anchors) and anchors[k].size == cr.size:
            anchors[k].ok = anchors[k].root == r
            k += 1
        next_check = anchors[k].size if k < len(anchors) else -1

    if next_check == start:
        check_anchors()
    # Hot loop: the compact range is updated inline (no call per entry); cr.size is synced when read.
    sha = merkle.hashlib.sha256
    a2b = binascii.a2b_base64
    stack = cr.hashes
    size = cr.size
    for pos, row in enumerate(rows):
        expected = start + pos
        if expected >= end:
            broken = (end, f"more entries than the range [{start}, {end}) holds")
            break
        try:
            index = row["index"]
            data = a2b(row["data"], strict_mode=True)
            recorded = row.get("hash")
            rh = None if recorded is None else a2b(recorded, strict_mode=True)
        except (TypeError, KeyError, AttributeError, binascii.Error, ValueError):
            broken = (expected, f"entry {expected} is not {{index, data: base64, hash?: base64}}")
            break
        if index != expected or type(index) is not int:
            broken = (expected, f"expected entry {expected} here, found {index!r}: entries deleted or out of order")
            break
        h = sha(_LEAF + data).digest()
        if rh is not None:
            if len(rh) != merkle.HASH_SIZE:
                broken = (expected, f"entry {expected} has a malformed recorded hash")
                break
            if rh != h and first_mismatch is None:
                first_mismatch = expected
                cr.size = size
                listed = cr.copy()
        if listed is not None:
            listed.append_leaf(h if rh is None else rh)
        append_node(stack, size, h)
        size += 1
        if size == next_check:
            cr.size = size
            check_anchors()
    else:
        if start + len(rows) < end:
            broken = (start + len(rows), f"entries stop at {start + len(rows)}; the range ends at {end}")
    cr.size = size

    final_ok = False
    if broken is None:
        for (level, _), h in zip(suffix_at, suffix, strict=False):
            cr.append_subtree(level, h)
            if listed is not None:
                listed.append_subtree(level, h)
        final_ok = cr.root() == cp.root_hash

    if final_ok:
        if first_mismatch is not None:
            raise BundleError(
                "entry",
                f"entry {first_mismatch}: its recorded hash was altered (its data is the signed one)",
                first_mismatch,
            )
        for a in anchors:
            if a.ok is False:
                raise BundleError(
                    "consistency", f"{a.label} is not a prefix of the checkpoint at {cp.size}: the log forked"
                )
        if earlier is not None and not start <= earlier.size <= end:
            _check_earlier(b, earlier, cp)
        return Verified(cp, start, end, sum(1 for a in anchors if a.ok), earlier.size if earlier else None)

    # The entries (or the proof hashes) do not give the signed root: find the first bad index.
    if broken is None and listed is not None and listed.root() == cp.root_hash:
        raise BundleError(
            "entry", f"entry {first_mismatch} was altered: its data does not match the signed tree", first_mismatch
        )
    known = [x for x in (first_mismatch, broken[0] if broken else None) if x is not None]
    first_known = min(known) if known else None
    good_to, failed = start, None
    for a in anchors:
        if a.ok is None:
            break
        if not a.ok:
            failed = a
            break
        good_to = a.size
    if failed is not None and (first_known is None or failed.size <= first_known):
        if failed.size == start:
            raise BundleError("proof", f"the bundle's prefix hashes do not match {failed.label}")
        if failed.size == good_to:
            raise BundleError("consistency", f"two checkpoints of size {good_to} disagree ({failed.label})")
        upto = failed.size if failed.size - good_to > 1 else None
        suspects = f"entries in [{good_to}, {failed.size})" + (" (or the prefix hashes)" if good_to == start else "")
        raise BundleError(
            "entry",
            f"{suspects} do not match {failed.label}: one was altered, deleted or moved",
            good_to,
            upto,
        )
    if first_known is not None:
        if broken is not None and broken[0] == first_known:
            raise BundleError("entry", broken[1], first_known)
        raise BundleError("entry", f"entry {first_known}: its data does not match its recorded hash", first_known)
    if good_to == end:
        raise BundleError("proof", "the bundle's suffix hashes do not lead to the signed root")
    raise BundleError(
        "entry",
        f"entries in [{good_to}, {end}) (or the bundle's proof hashes) do not lead to the signed root: "
        "an entry was altered, deleted or moved",
        good_to,
        end if end - good_to > 1 else None,
    )


def _check_earlier(b: Mapping[str, Any], earlier: Checkpoint, cp: Checkpoint) -> None:
    """Link the auditor's earlier checkpoint (outside the range) to the bundle's by a consistency proof."""
    if earlier.size in (0, cp.size):
        try:
            check_consistent(earlier, cp, [])
        except ConsistencyError as exc:
            raise BundleError("consistency", f"your checkpoint at size {earlier.size}: {exc}") from None
        return
    for item in b.get("consistency", []) or []:
        if isinstance(item, Mapping) and item.get("size") == earlier.size:
            raw = item.get("proof")
            if not isinstance(raw, list):
                raise _fmt("a consistency proof is a list of base64 hashes")
            proof = [p for p in map(_unb64, raw) if p is not None]
            if len(proof) != len(raw):
                raise _fmt("a consistency proof is a list of base64 hashes")
            try:
                check_consistent(earlier, cp, proof)
            except ConsistencyError as exc:
                raise BundleError(
                    "consistency", f"your checkpoint at size {earlier.size} is not a prefix of this one: {exc}"
                ) from None
            return
    raise BundleError(
        "consistency",
        f"the bundle carries no consistency proof from size {earlier.size}; export it with that size",
    )
