"""C2SP tlog-checkpoint: the signed statement "this log, at this size, has this root".

Text: origin line, decimal tree size (no leading zeros), base64 root hash, then optional non-empty
extension lines, each ending in a newline. It travels as a signed note whose key name is the origin.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.audit import merkle, note
from core.audit.merkle import ConsistencyError

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "ConsistencyError",
    "check_consistent",
    "open_checkpoint",
    "sign_checkpoint",
]


class CheckpointError(ValueError):
    """The checkpoint text is not a valid C2SP tlog-checkpoint."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def format(self) -> str:
        """The note text (not validated beyond line structure, so foreign test vectors round-trip)."""
        for line in (self.origin, *self.extensions):
            if not line or "\n" in line:
                raise CheckpointError("origin and extension lines must be non-empty single lines")
        if not isinstance(self.size, int) or not 0 <= self.size <= merkle.MAX_SIZE:
            raise CheckpointError(f"tree size must be in [0, 2**64-1], got {self.size!r}")
        root64 = base64.b64encode(self.root_hash).decode("ascii")
        return "".join(line + "\n" for line in (self.origin, str(self.size), root64, *self.extensions))

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse checkpoint note text; the root must be a 32-byte SHA-256 hash."""
        if not isinstance(text, str) or not text.endswith("\n"):
            raise CheckpointError("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError("a checkpoint has at least three lines: origin, size, root hash")
        origin, size_s, root_s, *ext = lines
        if not origin:
            raise CheckpointError("checkpoint origin is empty")
        if not size_s.isascii() or not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
            raise CheckpointError(f"checkpoint size {size_s!r} is not a decimal without leading zeros")
        size = int(size_s)
        if size > merkle.MAX_SIZE:
            raise CheckpointError("checkpoint size exceeds 2**64-1")
        try:
            root_hash = base64.b64decode(root_s.encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise CheckpointError("checkpoint root hash is not valid base64") from None
        if len(root_hash) != merkle.HASH_SIZE:
            raise CheckpointError(f"checkpoint root hash is {len(root_hash)} bytes, not {merkle.HASH_SIZE}")
        if any(not line for line in ext):
            raise CheckpointError("checkpoint extension lines must be non-empty")
        return cls(origin, size, root_hash, tuple(ext))


def sign_checkpoint(cp: Checkpoint, signer: note.Signer | str, keep: Iterable[note.Signature] = ()) -> str:
    """Signed note text for a checkpoint; the signer's key name must be the origin."""
    s = note.parse_signer(signer) if isinstance(signer, str) else signer
    if s.name != cp.origin:
        raise CheckpointError(f"the log key is named {s.name!r} but the checkpoint origin is {cp.origin!r}")
    return note.sign(cp.format(), s, keep=keep)


def open_checkpoint(
    signed: str | bytes,
    known: Iterable[note.Verifier | str] | note.Verifier | str,
    origin: str | None = None,
) -> Checkpoint:
    """Verify the note, then parse it. `origin`, if given, must match (defaults to no check).

    Raises note.NoteError subclasses for signature problems, CheckpointError for a bad body.
    """
    opened = note.open_note(signed, known)
    cp = Checkpoint.parse(opened.text)
    if origin is not None and cp.origin != origin:
        raise CheckpointError(f"checkpoint is for origin {cp.origin!r}, expected {origin!r}")
    return cp


def check_consistent(old: Checkpoint, new: Checkpoint, proof: Sequence[bytes]) -> None:
    """Raise ConsistencyError unless `new` extends `old` (same origin; `proof` from old.size to new.size).

    An empty old tree is consistent with anything, given an empty proof and the empty root
    (as c2sp.org/tlog-witness); merkle.verify_consistency refuses size 0.
    """
    if old.origin != new.origin:
        raise ConsistencyError(f"checkpoints of different logs: {old.origin!r} and {new.origin!r}")
    if old.size > new.size:
        raise ConsistencyError(f"the newer checkpoint ({new.size}) is smaller than the older ({old.size})")
    if old.size == 0:
        if proof:
            raise ConsistencyError("consistency from an empty tree takes an empty proof")
        if old.root_hash != merkle.EMPTY_ROOT:
            raise ConsistencyError("a checkpoint of size 0 must carry the empty-tree root")
        return
    merkle.verify_consistency(old.size, new.size, old.root_hash, new.root_hash, proof)
