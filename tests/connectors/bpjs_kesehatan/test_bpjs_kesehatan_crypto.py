"""The VClaim signature and response-encryption recipe, checked against the published vector and round trips."""

from __future__ import annotations

import base64
import hashlib

import lzstring
import pytest

from connectors.bpjs_kesehatan import crypto


def test_hmac_matches_the_published_vector() -> None:
    assert crypto.hmac_sha256_b64("bbb", "aaa") == "20BKS3PWnD3XU4JbSSZvVlGi2WWnDa8Sv9uHJ+wsELA="


def test_signature_signs_cons_id_ampersand_timestamp_with_the_secret() -> None:
    assert crypto.signature("1000", "s3cret", "1700000000") == crypto.hmac_sha256_b64("s3cret", "1000&1700000000")
    headers = crypto.signed_headers("1000", "s3cret", "uk", "1700000000")
    assert headers == {"X-cons-id": "1000", "X-timestamp": "1700000000",
                       "X-signature": crypto.signature("1000", "s3cret", "1700000000"), "user_key": "uk"}


def test_response_key_is_sha256_of_cons_id_secret_timestamp_and_iv_its_first_half() -> None:
    key = crypto.response_key("1000", "s3cret", "1700000000")
    assert key == hashlib.sha256(b"1000s3cret1700000000").digest() and len(key) == 32
    # IV = key[:16]: an encryption of one block with that IV is reproducible by hand
    token = crypto.encrypt_text("x", key)
    assert len(base64.b64decode(token)) == 16
    assert crypto.decrypt_text(token, key) == "x"


@pytest.mark.parametrize("text", ["BUDI SANTOSO", "Ã© ñ ü", "名前 テスト", "emoji 😀 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "a" * 5000])
def test_lz_string_round_trips_any_unicode(text: str) -> None:
    assert crypto.lz_decompress(crypto.lz_compress(text)) == text


def test_lz_compress_is_the_plain_algorithm_for_bmp_text() -> None:
    """Only astral characters are rewritten (to surrogate pairs, as JavaScript holds them)."""
    text = '{"nama":"SITI NURHALIZA","kota":"名前"}'
    assert crypto.lz_compress(text) == lzstring.LZString.compressToEncodedURIComponent(text)
    assert lzstring.LZString.decompressFromEncodedURIComponent(crypto.lz_compress("😀")) == "\ud83d\ude00"


def test_seal_and_unseal_round_trip() -> None:
    payload = {"peserta": {"nama": "SITI 😀", "noKartu": "0001234567890", "umur": None}}
    token = crypto.seal(payload, "1000", "s3cret", "1700000000")
    assert crypto.unseal(token, "1000", "s3cret", "1700000000") == payload


@pytest.mark.parametrize("cons_id,secret,timestamp", [
    ("1000", "s3cret", "1700000001"),  # the key of another request's timestamp
    ("1000", "other", "1700000000"),
    ("1001", "s3cret", "1700000000"),
])
def test_unseal_with_another_key_fails_cleanly(cons_id: str, secret: str, timestamp: str) -> None:
    token = crypto.seal({"peserta": {"nama": "X"}}, "1000", "s3cret", "1700000000")
    with pytest.raises(crypto.EnvelopeCryptoError):
        crypto.unseal(token, cons_id, secret, timestamp)


def test_tampered_token_fails_cleanly() -> None:
    token = crypto.seal({"peserta": {"nama": "BUDI"}, "pad": "x" * 100}, "1000", "s3cret", "1700000000")
    raw = bytearray(base64.b64decode(token))
    raw[20] ^= 0x55
    with pytest.raises(crypto.EnvelopeCryptoError):
        crypto.unseal(base64.b64encode(bytes(raw)).decode(), "1000", "s3cret", "1700000000")


@pytest.mark.parametrize("token", ["not base64!", "QUJD", "", "A" * (crypto.MAX_TOKEN_CHARS + 4)])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(crypto.EnvelopeCryptoError):
        crypto.unseal(token, "1000", "s3cret", "1700000000")


def test_decrypted_text_that_is_not_lz_string_or_json_is_refused() -> None:
    key = crypto.response_key("1000", "s3cret", "1")
    with pytest.raises(crypto.EnvelopeCryptoError, match="LZ-string"):
        crypto.unseal(crypto.encrypt_text("!!not lz!!", key), "1000", "s3cret", "1")
    with pytest.raises(crypto.EnvelopeCryptoError, match="not JSON"):
        crypto.unseal(crypto.encrypt_text(crypto.lz_compress("{not json"), key), "1000", "s3cret", "1")
