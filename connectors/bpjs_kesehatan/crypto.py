"""BPJS Kesehatan (VClaim-style) request signature and response encryption, shared by client and simulator.

The recipe, from the public VClaim integration guides (see /work/shared/agencies.md):

* every request carries `X-cons-id`, `X-timestamp` (UTC epoch seconds), `user_key` and
  `X-signature = base64(HMAC-SHA256(key=secret, msg=f"{cons_id}&{timestamp}"))`;
* the reply's `response` field is `base64(AES-256-CBC(PKCS7(lz_compress(json))))` with
  key = SHA-256(cons_id + secret + timestamp) — the timestamp *of the request* — and IV = the key's first 16 bytes.

LZ-string works on UTF-16 code units (it was written for JavaScript strings); the PyPI `lzstring` port works on
Python code points and silently truncates characters beyond U+FFFF. `lz_compress`/`lz_decompress` therefore go
through UTF-16 surrogate pairs, which makes them byte-compatible with the JavaScript and PHP implementations for
every Unicode string.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

import lzstring
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MAX_TOKEN_CHARS = 512 * 1024
"""An encrypted `response` longer than this is refused before decrypting: a reply is a few kilobytes, and
LZ-string output can grow much faster than its input, so an unbounded token is a memory hazard."""


class EnvelopeCryptoError(ValueError):
    """The `response` field cannot be decrypted, decompressed or parsed; the message never contains the data."""


def hmac_sha256_b64(key: str, message: str) -> str:
    """base64(HMAC-SHA256(key, message)), both UTF-8: the primitive behind X-signature."""
    digest = hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature(cons_id: str, secret: str, timestamp: str) -> str:
    """The X-signature of a request made at `timestamp` (epoch seconds as text)."""
    return hmac_sha256_b64(secret, f"{cons_id}&{timestamp}")


def timestamp_now(clock: Any = time.time) -> str:
    """UTC epoch seconds as text, the X-timestamp format."""
    return str(int(clock()))


def signed_headers(cons_id: str, secret: str, user_key: str, timestamp: str) -> dict[str, str]:
    """The four authentication headers of one request."""
    return {
        "X-cons-id": cons_id,
        "X-timestamp": timestamp,
        "X-signature": signature(cons_id, secret, timestamp),
        "user_key": user_key,
    }


def signature_matches(expected: str, given: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def response_key(cons_id: str, secret: str, timestamp: str) -> bytes:
    """The 32-byte AES key of the reply to a request made at `timestamp`."""
    return hashlib.sha256(f"{cons_id}{secret}{timestamp}".encode()).digest()


def lz_compress(text: str) -> str:
    """LZ-string compressToEncodedURIComponent over UTF-16 code units (JavaScript-compatible)."""
    return lzstring.LZString.compressToEncodedURIComponent(_to_code_units(text))


def lz_decompress(compressed: str) -> str:
    """LZ-string decompressFromEncodedURIComponent; EnvelopeCryptoError if it is not LZ-string data."""
    if not compressed:
        raise EnvelopeCryptoError("empty LZ-string data")
    try:
        units = lzstring.LZString.decompressFromEncodedURIComponent(compressed)
    except Exception as exc:  # the port fails on bad input with KeyError, IndexError, UnboundLocalError...
        raise EnvelopeCryptoError("not LZ-string data") from exc
    if units is None:
        raise EnvelopeCryptoError("not LZ-string data")
    try:
        return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeError as exc:
        raise EnvelopeCryptoError("LZ-string data holds broken UTF-16") from exc


def encrypt_text(text: str, key: bytes) -> str:
    """base64(AES-256-CBC(PKCS7(text as UTF-8))) with IV = key[:16]."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(text.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def decrypt_text(token: str, key: bytes) -> str:
    """Inverse of `encrypt_text`; EnvelopeCryptoError for bad base64, bad length, bad padding or non-UTF-8."""
    if not isinstance(token, str) or not token:
        raise EnvelopeCryptoError("encrypted response is not a non-empty string")
    if len(token) > MAX_TOKEN_CHARS:
        raise EnvelopeCryptoError("encrypted response too large")
    try:
        data = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeCryptoError("encrypted response is not base64") from exc
    if not data or len(data) % 16:
        raise EnvelopeCryptoError("encrypted response is not a whole number of AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:  # wrong key almost always shows up as bad padding
        raise EnvelopeCryptoError("encrypted response does not decrypt (wrong key or tampered)") from exc
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EnvelopeCryptoError("decrypted response is not UTF-8 (wrong key or tampered)") from exc


def seal(payload: Any, cons_id: str, secret: str, timestamp: str) -> str:
    """What the agency puts in `response`: JSON → LZ-string → AES → base64, keyed to the request's timestamp."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return encrypt_text(lz_compress(text), response_key(cons_id, secret, timestamp))


def unseal(token: str, cons_id: str, secret: str, timestamp: str) -> Any:
    """Inverse of `seal`: the JSON value, or EnvelopeCryptoError if any layer fails."""
    text = lz_decompress(decrypt_text(token, response_key(cons_id, secret, timestamp)))
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested past the parser's depth
        raise EnvelopeCryptoError("decrypted response is not JSON") from exc


def _to_code_units(text: str) -> str:
    """The string as UTF-16 code units (astral characters become surrogate pairs), as JavaScript sees it."""
    if text.isascii() or max(map(ord, text)) <= 0xFFFF:
        return text
    raw = text.encode("utf-16-le", "surrogatepass")
    return "".join(chr(int.from_bytes(raw[i : i + 2], "little")) for i in range(0, len(raw), 2))
