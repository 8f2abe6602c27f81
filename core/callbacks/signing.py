"""Signatures on every batch, the Standard Webhooks way (standardwebhooks.com, spec 1.0.0), so an agency verifies
them with the library it already has instead of code copied from our docs.

- `webhook-id`: the batch id (stable across retries, the receiver's idempotency key; a UUID, so never a `.`);
- `webhook-timestamp`: unix seconds of this attempt;
- `webhook-signature`: space-separated `v1,<base64 HMAC-SHA256>` per subscription secret (two during a rotation's
  overlap: new first, then old) and `v1a,<base64 Ed25519>` with the bus key (the audit signer), all over
  `{id}.{timestamp}.{body}`. Its public key is published as `whpk_<base64 of the 32 raw bytes>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence

from core.audit.note import Signer

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"
PUBLIC_KEY_PREFIX = "whpk_"


def secret_bytes(secret: str) -> bytes:
    """The HMAC key a `whsec_<base64>` secret stands for, decoded as the reference libraries decode it. Secrets
    revealed before Standard Webhooks were base64url without padding: the same bytes, so they are accepted too."""
    body = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    raw = base64.b64decode(body.replace("-", "+").replace("_", "/") + "==")
    if not raw:
        raise ValueError("an empty webhook secret")
    return raw


def signed_content(msg_id: str, timestamp: int, body: bytes) -> bytes:
    """What both signatures cover: `{webhook-id}.{webhook-timestamp}.{body}` (the exact body bytes)."""
    return f"{msg_id}.{timestamp}.".encode() + body


def v1(secret: str, content: bytes) -> str:
    """The symmetric signature: HMAC-SHA256 keyed by the secret's bytes."""
    digest = hmac.new(secret_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def v1a(signer: Signer, content: bytes) -> str:
    """The asymmetric signature with the bus key (verifiable with its `whpk_` public key alone)."""
    return "v1a," + base64.b64encode(signer.sign(content)).decode()


def public_key(signer: Signer) -> str:
    """The bus key's public half in the spec's `whpk_` form."""
    return PUBLIC_KEY_PREFIX + base64.b64encode(signer.public_key).decode()


def headers(
    msg_id: str, secrets: Sequence[str], signer: Signer | None, body: bytes, timestamp: int | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (`secrets`: current first, then any still valid)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    content = signed_content(msg_id, timestamp, body)
    signatures = [v1(secret, content) for secret in secrets]
    if signer is not None:
        signatures.append(v1a(signer, content))
    return {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: " ".join(signatures)}
