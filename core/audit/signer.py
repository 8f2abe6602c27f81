"""The log's signing key: from settings, or (embedded default only) generated into the data directory.

One log, one key: every process sharing a database must sign with the same key, so with PostgreSQL a missing
key stops the process (like the bus's other secrets). The key's name is the log's origin.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from core.audit import note
from core.security.secrets import is_embedded_database
from core.settings import Settings

KEY_FILE = "audit-signer.key"


def read_signer(path: Path, origin: str) -> note.Signer:
    """A signer from a key file: note signer key text, or a PEM Ed25519 private key (named `origin`)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the audit signing key {path}: {exc}") from None
    if text.startswith("-----BEGIN"):
        try:
            key = load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path} is not an unencrypted PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 key")
        return note.signer_from_private_key(origin, key)
    try:
        return note.parse_signer(text)
    except note.NoteError as exc:
        raise ValueError(f"{path} is not a note signer key (PRIVATE+KEY+…): {exc}") from None


def write_new_key(path: Path, origin: str) -> str:
    """Create `path` (0600, never overwriting) with a new signer key; returns the verifier key."""
    skey, vkey = note.generate_signer(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(skey + "\n")
    return vkey


def load_signer(settings: Settings) -> note.Signer:
    """The configured signer; embedded default: `<data_dir>/audit-signer.key`, created on first use."""
    if settings.signing_key:
        try:
            return note.parse_signer(settings.signing_key)
        except note.NoteError as exc:
            raise ValueError(f"GERBANG_SIGNING_KEY is not a note signer key: {exc}") from None
    if settings.signing_key_path:
        return read_signer(settings.signing_key_path, settings.audit_origin)
    if not is_embedded_database(settings.database_url):
        raise ValueError(
            "with a shared database every process must sign the audit log with the same key: set "
            "GERBANG_SIGNING_KEY_PATH (create one with `gerbang audit keygen --out FILE`)"
        )
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        try:
            write_new_key(path, settings.audit_origin)
        except FileExistsError:  # another process created it a moment ago
            pass
    return read_signer(path, settings.audit_origin)
