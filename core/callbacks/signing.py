"""The two signatures on every batch (see docs/callbacks.md for the receiver's recipes).

- `Gerbang-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>` — the subscription's shared secret;
- `Gerbang-Signature-Ed25519: t=<unix>,key=<key name>+<key id hex>,sig=<base64 Ed25519(t + "." + body)>` — the
  bus key (the audit signer), so an agency can verify with the public key alone, without holding a secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from core.audit.note import Signer, Verifier

HMAC_HEADER = "Gerbang-Signature"
ED25519_HEADER = "Gerbang-Signature-Ed25519"
TOLERANCE_S = 300


def signed_payload(t: int, body: bytes) -> bytes:
    return str(t).encode() + b"." + body


def hmac_header(secret: str, body: bytes, t: int) -> str:
    digest = hmac.new(secret.encode(), signed_payload(t, body), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def ed25519_header(signer: Signer, body: bytes, t: int) -> str:
    sig = base64.b64encode(signer.sign(signed_payload(t, body))).decode()
    return f"t={t},key={signer.name}+{signer.key_id:08x},sig={sig}"


def headers(secret: str, signer: Signer | None, body: bytes, t: int | None = None) -> dict[str, str]:
    t = int(time.time()) if t is None else t
    out = {HMAC_HEADER: hmac_header(secret, body, t)}
    if signer is not None:
        out[ED25519_HEADER] = ed25519_header(signer, body, t)
    return out


def _fields(header: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in header.split(",") if "=" in part)


def verify_hmac(secret: str, header: str, body: bytes, now: float | None = None) -> bool:
    """The receiver's check of `Gerbang-Signature` (recent timestamp, constant-time compare)."""
    fields = _fields(header)
    try:
        t = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > TOLERANCE_S:
        return False
    expected = hmac.new(secret.encode(), signed_payload(t, body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


def verify_ed25519(verifier: Verifier, header: str, body: bytes, now: float | None = None) -> bool:
    """The receiver's check of `Gerbang-Signature-Ed25519` with the bus's public key."""
    fields = _fields(header)
    try:
        t, sig = int(fields["t"]), base64.b64decode(fields["sig"], validate=True)
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > TOLERANCE_S:
        return False
    return verifier.verify(signed_payload(t, body), sig)
