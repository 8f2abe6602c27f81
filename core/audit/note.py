"""C2SP signed notes (c2sp.org/signed-note) with Ed25519, as golang.org/x/mod/sumdb/note speaks them.

A note is a text ending in a newline, a blank line, then signature lines
`— <key name> base64(key id || signature)`. Keys travel as strings:
verifier `<name>+<8 hex key id>+base64(0x01 || public key)` and signer
`PRIVATE+KEY+<name>+<8 hex key id>+base64(0x01 || seed)`; the key id is
SHA-256(name || "\\n" || 0x01 || public key)[:4]. Opening a note ignores signatures from unknown
keys, rejects the note if a known key's signature is bad, and requires at least one good one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = 0x01
MAX_SIGNATURES = 100  # as Go's note.Open; the spec asks verifiers to accept at least 16
SIG_PREFIX = "— "  # em dash, space

_RAW = serialization.Encoding.Raw
_RAW_PUB = serialization.PublicFormat.Raw
_RAW_PRIV = serialization.PrivateFormat.Raw


class NoteError(ValueError):
    """Base for every signed-note problem."""


class MalformedNote(NoteError):
    """The bytes are not a well-formed signed note."""


class KeyFormatError(NoteError):
    """A verifier or signer key string is malformed, or of a type we do not support."""


class InvalidSignature(NoteError):
    """A signature by a known key does not verify: the whole note is rejected."""


class UnverifiedNote(NoteError):
    """The note parsed, but no known key signed it."""

    def __init__(self, message: str, note: Note) -> None:
        super().__init__(message)
        self.note = note


def _b64decode(s: str) -> bytes:
    """Strict standard base64 (padding required, no stray characters)."""
    return base64.b64decode(s.encode("ascii"), validate=True)


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def is_valid_name(name: str) -> bool:
    """Key names are non-empty, with no Unicode space, no '+' and no control character (a note's text, which
    carries the origin, may hold none: a key named so could never sign)."""
    return bool(name) and "+" not in name and not any(ch.isspace() or ch < " " for ch in name) and _is_utf8(name)


def _is_utf8(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def key_id(name: str, key: bytes) -> int:
    """uint32 key id: SHA-256(name || 0x0A || key)[:4], where key is the type byte followed by the public key."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8") + b"\n" + key).digest()[:4], "big")


@dataclass(frozen=True)
class Verifier:
    """An Ed25519 note verifier key."""

    name: str
    key_id: int
    public_key: bytes  # 32 raw bytes

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (_CryptoInvalidSignature, ValueError):
            return False
        return True

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.key_id:08x}+{_b64(bytes([ALG_ED25519]) + self.public_key)}"

    def __str__(self) -> str:
        return self.vkey


@dataclass(frozen=True)
class Signer:
    """An Ed25519 note signer key (keeps the 32-byte seed)."""

    name: str
    key_id: int
    seed: bytes = field(repr=False)

    def sign(self, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)

    @property
    def public_key(self) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes(_RAW, _RAW_PUB)

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, self.public_key)

    @property
    def skey(self) -> str:
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{_b64(bytes([ALG_ED25519]) + self.seed)}"


def _parse_key_fields(name: str, hex_id: str, key64: str, kind: str) -> tuple[int, bytes]:
    if not is_valid_name(name):
        raise KeyFormatError(f"{kind} key has an invalid name {name!r}")
    if len(hex_id) != 8 or any(c not in "0123456789abcdefABCDEF" for c in hex_id):
        raise KeyFormatError(f"{kind} key id must be 8 hex digits")
    try:
        key = _b64decode(key64)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise KeyFormatError(f"{kind} key material is not valid base64") from None
    if not key:
        raise KeyFormatError(f"{kind} key material is empty")
    if key[0] != ALG_ED25519:
        raise KeyFormatError(f"unsupported {kind} key type 0x{key[0]:02x} (only Ed25519, 0x01)")
    if len(key) != 33:
        raise KeyFormatError(f"an Ed25519 {kind} key is 32 bytes, got {len(key) - 1}")
    return int(hex_id, 16), key[1:]


def parse_verifier(vkey: str) -> Verifier:
    """Decode `<name>+<hex id>+<base64(0x01||pubkey)>`, checking the id matches name and key."""
    if not isinstance(vkey, str):
        raise KeyFormatError("a verifier key is a string")
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise KeyFormatError("a verifier key looks like <name>+<8 hex>+<base64>")
    name, hex_id, key64 = parts
    kid, pub = _parse_key_fields(name, hex_id, key64, "verifier")
    if key_id(name, bytes([ALG_ED25519]) + pub) != kid:
        raise KeyFormatError(f"verifier key id {hex_id} does not match name and key")
    return Verifier(name, kid, pub)


def parse_signer(skey: str) -> Signer:
    """Decode `PRIVATE+KEY+<name>+<hex id>+<base64(0x01||seed)>`, checking the id against the derived public key."""
    if not isinstance(skey, str):
        raise KeyFormatError("a signer key is a string")
    parts = skey.strip().split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise KeyFormatError("a signer key looks like PRIVATE+KEY+<name>+<8 hex>+<base64>")
    _, _, name, hex_id, key64 = parts
    kid, seed = _parse_key_fields(name, hex_id, key64, "signer")
    signer = Signer(name, kid, seed)
    if key_id(name, bytes([ALG_ED25519]) + signer.public_key) != kid:
        raise KeyFormatError(f"signer key id {hex_id} does not match name and key")
    return signer


def signer_from_private_key(name: str, private_key: Ed25519PrivateKey) -> Signer:
    """Wrap an existing Ed25519 key (e.g. loaded from the configured key file) as a note signer."""
    if not is_valid_name(name):
        raise KeyFormatError(f"invalid key name {name!r}: non-empty, no spaces, no '+'")
    seed = private_key.private_bytes(_RAW, _RAW_PRIV, serialization.NoEncryption())
    pub = private_key.public_key().public_bytes(_RAW, _RAW_PUB)
    return Signer(name, key_id(name, bytes([ALG_ED25519]) + pub), seed)


def generate_signer(name: str) -> tuple[str, str]:
    """A fresh key pair for `name`: (signer key, verifier key). Keep the first secret."""
    signer = signer_from_private_key(name, Ed25519PrivateKey.generate())
    return signer.skey, signer.verifier.vkey


# --- notes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, key id, and the signature bytes after the id."""

    name: str
    key_id: int
    signature: bytes

    @property
    def line(self) -> str:
        return f"{SIG_PREFIX}{self.name} {_b64(self.key_id.to_bytes(4, 'big') + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    """An opened note: its text, the verified signatures and the ones from unknown keys."""

    text: str
    signatures: tuple[Signature, ...]
    unverified: tuple[Signature, ...] = ()


def _check_chars(s: str) -> None:
    for ch in s:
        if ch < " " and ch != "\n":
            raise MalformedNote(f"note contains control character U+{ord(ch):04X}")
    if not _is_utf8(s):
        raise MalformedNote("note is not valid UTF-8")


def _check_text(text: str) -> None:
    """What we accept as text to sign: non-empty, ends in newline, nothing a reader could take for a signature."""
    if not isinstance(text, str) or not text:
        raise MalformedNote("note text must be a non-empty string")
    if not text.endswith("\n"):
        raise MalformedNote("note text must end with a newline")
    _check_chars(text)
    if any(line.startswith(SIG_PREFIX) for line in text.split("\n")):
        raise MalformedNote("note text must not contain signature lines")


def parse(message: str | bytes) -> tuple[str, list[Signature]]:
    """Split a signed note into its text and signature lines, without verifying anything."""
    if isinstance(message, (bytes, bytearray)):
        try:
            message = bytes(message).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedNote("note is not valid UTF-8") from None
    if not isinstance(message, str):
        raise MalformedNote("a note is text")
    _check_chars(message)
    split = message.rfind("\n\n")
    if split < 0:
        raise MalformedNote("note has no blank line before its signatures")
    text, block = message[: split + 1], message[split + 2 :]
    if not block or not block.endswith("\n"):
        raise MalformedNote("note must end with a signature line and a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote(f"note has more than {MAX_SIGNATURES} signatures")
    sigs = []
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise MalformedNote("every line after the blank line must be a signature line")
        name, sep, b64 = line[len(SIG_PREFIX) :].partition(" ")
        if not sep or not is_valid_name(name) or not b64:
            raise MalformedNote("malformed signature line")
        try:
            raw = _b64decode(b64)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise MalformedNote("signature is not valid base64") from None
        if len(raw) < 5:
            raise MalformedNote("signature is too short")
        sigs.append(Signature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return text, sigs


def _as_verifiers(known: Iterable[Verifier | str] | Verifier | str) -> dict[tuple[str, int], Verifier]:
    if isinstance(known, (Verifier, str)):
        known = [known]
    table: dict[tuple[str, int], Verifier] = {}
    for v in known:
        v = parse_verifier(v) if isinstance(v, str) else v
        k = (v.name, v.key_id)
        if k in table and table[k] != v:
            raise KeyFormatError(f"two different keys named {v.name}+{v.key_id:08x}")
        table[k] = v
    return table


def open_note(message: str | bytes, known: Iterable[Verifier | str] | Verifier | str) -> Note:
    """Parse and verify a note against known verifier keys.

    Raises MalformedNote, InvalidSignature (a known key's signature is bad) or UnverifiedNote (no
    known key signed it). Signatures from unknown keys — same name or same id, but not both — are
    kept in `Note.unverified`; repeated lines are dropped.
    """
    table = _as_verifiers(known)
    text, sigs = parse(message)
    msg = text.encode("utf-8")
    good: list[Signature] = []
    other: list[Signature] = []
    seen: set[tuple[str, int]] = set()
    for sig in sigs:
        v = table.get((sig.name, sig.key_id))
        if v is None:
            if sig not in other:
                other.append(sig)
            continue
        if (sig.name, sig.key_id) in seen:
            continue
        seen.add((sig.name, sig.key_id))
        if not v.verify(msg, sig.signature):
            raise InvalidSignature(f"invalid signature for key {sig.name}+{sig.key_id:08x}")
        good.append(sig)
    note = Note(text, tuple(good), tuple(other))
    if not good:
        raise UnverifiedNote("note has no verifiable signatures", note)
    return note


def sign(text: str, *signers: Signer | str, keep: Iterable[Signature] = ()) -> str:
    """Sign `text` with each signer; `keep` carries earlier signatures (e.g. cosignatures) into the note.

    Kept signatures come first, new ones after, as Go's note.Sign; a kept signature by one of the
    signers' keys is replaced.
    """
    _check_text(text)
    if not signers:
        raise ValueError("sign needs at least one signer")
    msg = text.encode("utf-8")
    new: list[str] = []
    mine: set[tuple[str, int]] = set()
    for s in signers:
        s = parse_signer(s) if isinstance(s, str) else s
        if not is_valid_name(s.name):
            raise KeyFormatError(f"invalid signer name {s.name!r}")
        mine.add((s.name, s.key_id))
        new.append(Signature(s.name, s.key_id, s.sign(msg)).line)
    old = [sig.line for sig in keep if (sig.name, sig.key_id) not in mine]
    if len(old) + len(new) > MAX_SIGNATURES:
        raise MalformedNote(f"a note carries at most {MAX_SIGNATURES} signatures")
    return text + "\n" + "".join(old) + "".join(new)
