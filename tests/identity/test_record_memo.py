"""RecordMemo: assembled records kept briefly, encrypted, bounded, and never past their facets' freshness."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from identity.clock import utcnow
from identity.record_memo import RecordMemo

BODY = b'{"nik":"3171011505900001","facets":{"identity":{"data":{"full_name":"SITI AMINAH"}}}}'
SUMMARY = {"identity": {"agency": "dukcapil", "status": "ok", "cached": True}}
LATER = utcnow() + dt.timedelta(hours=1)


def test_remembers_per_subject_and_variant_and_keeps_only_ciphertext() -> None:
    memo = RecordMemo()
    memo.put("subject-a", ("identity_check", ("identity",)), BODY, SUMMARY, LATER)
    assert memo.get("subject-a", ("identity_check", ("identity",))) == (BODY, SUMMARY)
    assert memo.get("subject-a", ("vehicle_tax", ("identity", "vehicles"))) is None
    assert memo.get("subject-b", ("identity_check", ("identity",))) is None
    (slot,) = memo._records["subject-a"].values()
    sealed = b"".join(slot.sealed)
    assert b"SITI" not in sealed and b"3171011505900001" not in sealed


def test_a_large_record_is_sealed_in_pieces_that_cannot_be_moved_or_dropped() -> None:
    """Pieces stay under the size from which cryptography releases the GIL; each is bound to its place."""
    from cryptography.exceptions import InvalidTag

    from identity.record_memo import PIECE

    memo = RecordMemo()
    variant = ("identity_check", ("identity",))
    body = b"".join(b'{"n":%d}' % i for i in range(900))  # ~8 KB, several pieces
    memo.put("s", variant, body, SUMMARY, LATER)
    slot = memo._records["s"][variant]
    assert len(slot.sealed) == -(-len(body) // PIECE) > 1
    assert all(len(piece) <= 12 + PIECE + 16 for piece in slot.sealed)
    assert memo.get("s", variant) == (body, SUMMARY)
    for tampered in (slot.sealed[::-1], slot.sealed[:-1], slot.sealed + slot.sealed[-1:]):
        memo._records["s"][variant] = dataclasses.replace(slot, sealed=tampered)
        with pytest.raises(InvalidTag):
            memo.get("s", variant)


def test_forgets_after_its_ttl_or_the_facets_freshness_whichever_first(monkeypatch: pytest.MonkeyPatch) -> None:
    import identity.record_memo as module

    clock = [1000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    memo = RecordMemo(ttl_s=2.0)
    variant = ("identity_check", ("identity",))
    memo.put("s", variant, BODY, SUMMARY, LATER)
    clock[0] += 1.9
    assert memo.get("s", variant) is not None
    clock[0] += 0.2
    assert memo.get("s", variant) is None

    memo.put("s", variant, BODY, SUMMARY, utcnow() - dt.timedelta(microseconds=1))  # its facet just went stale
    assert memo.get("s", variant) is None


def test_drop_forgets_every_variant_of_a_subject_and_size_is_bounded() -> None:
    memo = RecordMemo(max_entries=2)
    for variant in (("p1", ("identity",)), ("p2", ("identity", "vehicles"))):
        memo.put("s", variant, BODY, SUMMARY, LATER)
    memo.drop("s")
    assert memo.get("s", ("p1", ("identity",))) is None and memo.get("s", ("p2", ("identity", "vehicles"))) is None
    for subject in ("a", "b", "c"):
        memo.put(subject, ("p1", ("identity",)), BODY, SUMMARY, LATER)
    assert set(memo._records) == {"b", "c"}, "the oldest subject goes first"


def test_a_zero_ttl_remembers_nothing() -> None:
    memo = RecordMemo(ttl_s=0)
    memo.put("s", ("p1", ("identity",)), BODY, SUMMARY, LATER)
    assert memo.get("s", ("p1", ("identity",))) is None
