"""Console session tokens: signed, expiring, tamper-evident; the CSRF token is bound to one login."""

from __future__ import annotations

from core.console import session as s

KEY = b"k" * 32


def test_a_token_reads_back_until_it_expires() -> None:
    token = s.issue(KEY, "d" * 64, now=1000.0, lifetime_s=60)
    found = s.read(KEY, token, now=1059.0)
    assert found is not None and found.digest == "d" * 64 and found.expires == 1060
    assert s.read(KEY, token, now=1060.0) is None


def test_a_tampered_or_foreign_token_is_refused() -> None:
    token = s.issue(KEY, "d" * 64, now=1000.0)
    body, mac = token.split(".")
    other = s.issue(KEY, "e" * 64, now=1000.0)
    assert s.read(KEY, f"{other.split('.')[0]}.{mac}", now=1001.0) is None   # body swapped
    assert s.read(b"x" * 32, token, now=1001.0) is None                     # another deployment's key
    for junk in (None, "", ".", "a.b.c", "!!!.???", f"{body}.", "x" * 2000):
        assert s.read(KEY, junk, now=1001.0) is None


def test_csrf_tokens_are_per_login() -> None:
    one = s.read(KEY, s.issue(KEY, "d" * 64, now=1000.0), now=1001.0)
    two = s.read(KEY, s.issue(KEY, "d" * 64, now=1000.0), now=1001.0)
    assert one and two
    assert s.csrf_ok(KEY, one, s.csrf_token(KEY, one))
    assert not s.csrf_ok(KEY, one, s.csrf_token(KEY, two))
    assert not s.csrf_ok(KEY, one, None) and not s.csrf_ok(KEY, one, "")


def test_the_session_key_is_derived_not_the_nik_hash_key() -> None:
    class Secrets:
        nik_hash_key = b"n" * 32

    derived = s.session_key(Secrets())
    assert len(derived) == 32 and derived != Secrets.nik_hash_key and derived == s.session_key(Secrets())
