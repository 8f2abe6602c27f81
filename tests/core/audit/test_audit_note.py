"""C2SP signed notes: golang.org/x/mod/sumdb/note vectors, the C2SP example, sum.golang.org, malformed notes."""

from __future__ import annotations

import base64

import pytest

from core.audit import note
from core.audit.note import InvalidSignature, KeyFormatError, MalformedNote, UnverifiedNote

TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"


def _keys(vectors: dict) -> dict[str, dict]:
    return {k["name"]: k for k in vectors["keys"]}


def test_key_ids_match_every_published_key(signed_notes):
    for k in signed_notes["keys"]:
        name, hex_id, b64 = k["vkey"].split("+", 2)
        raw = base64.b64decode(b64)
        assert f"{note.key_id(name, raw):08x}" == hex_id, name
        if raw[0] == note.ALG_ED25519:
            v = note.parse_verifier(k["vkey"])
            assert (v.name, v.key_id) == (name, int(hex_id, 16))
            assert v.vkey == k["vkey"]
        else:  # the 0x04 cosignature/v1 witness key: a valid key id, but not a note signing key
            with pytest.raises(KeyFormatError, match="0x04"):
                note.parse_verifier(k["vkey"])
        if "skey" in k:
            s = note.parse_signer(k["skey"])
            assert s.skey == k["skey"]
            assert s.verifier.vkey == k["vkey"]


def test_signing_golden_is_byte_exact(signed_notes):
    keys = _keys(signed_notes)
    golden = signed_notes["notes"][0]["note"]
    assert note.sign(TEXT, keys["PeterNeumann"]["skey"]) == golden
    opened = note.open_note(golden, keys["PeterNeumann"]["vkey"])
    assert opened.text == TEXT and [s.name for s in opened.signatures] == ["PeterNeumann"]


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_published_notes_verify(signed_notes, index):
    keys = _keys(signed_notes)
    case = signed_notes["notes"][index]
    vkeys = [keys[name]["vkey"] for name in case["verifies_with"]]
    opened = note.open_note(case["note"], vkeys)
    assert sorted(s.name for s in opened.signatures) == sorted(case["verifies_with"])
    assert opened.unverified == ()
    # Any single byte of a signature flipped: a known key's bad signature rejects the whole note.
    text, sigs = note.parse(case["note"])
    bad = sigs[0].signature[:-1] + bytes([sigs[0].signature[-1] ^ 1])
    forged = text + "\n" + note.Signature(sigs[0].name, sigs[0].key_id, bad).line
    with pytest.raises(InvalidSignature):
        note.open_note(forged, vkeys)


def test_unknown_signatures_are_tolerated_but_one_known_is_required(signed_notes):
    keys = _keys(signed_notes)
    two = signed_notes["notes"][1]["note"]
    opened = note.open_note(two, keys["PeterNeumann"]["vkey"])
    assert [s.name for s in opened.signatures] == ["PeterNeumann"]
    assert [s.name for s in opened.unverified] == ["EnochRoot"]
    with pytest.raises(UnverifiedNote, match="no verifiable signatures") as err:
        note.open_note(two, [])
    assert len(err.value.note.unverified) == 2
    # Same name, other key (so other id): ignored, not "invalid".
    _, other = note.generate_signer("PeterNeumann")
    with pytest.raises(UnverifiedNote):
        note.open_note(signed_notes["notes"][0]["note"], other)


def test_generated_keys_round_trip_and_keep_cosignatures():
    skey, vkey = note.generate_signer("gerbang.example/audit")
    assert skey.startswith("PRIVATE+KEY+gerbang.example/audit+") and vkey.startswith("gerbang.example/audit+")
    witness_skey, witness_vkey = note.generate_signer("witness.example")
    signed = note.sign("hello\n", skey)
    cosigned = note.sign("hello\n", witness_skey, keep=note.open_note(signed, vkey).signatures)
    opened = note.open_note(cosigned, [vkey, witness_vkey])
    assert [s.name for s in opened.signatures] == ["gerbang.example/audit", "witness.example"]
    with pytest.raises(KeyFormatError):
        note.generate_signer("has space")
    with pytest.raises(KeyFormatError):
        note.generate_signer("a+b")


def _malformed(golden: str) -> dict[str, str | bytes]:
    """The cases listed under malformed_notes_must_reject in signed_note_vectors.json."""
    sig_line = golden[len(TEXT) + 1 :]
    return {
        "text only, no blank line/signature": TEXT,
        "text + '\\n' only": TEXT + "\n",
        "signature line missing final newline": golden[:-1],
        "leading 0x01 control byte": "\x01" + golden,
        "leading 0xff (invalid UTF-8)": b"\xff" + golden.encode(),
        "key name with space ('— Bad Name ...')": TEXT + "\n— Bad Name " + sig_line.split(" ", 2)[2],
        "extra non-signature line after signatures": golden + "not a signature\n",
        "101 signatures (Go note.Open limit is 100; C2SP requires accepting >= 16)": TEXT + "\n" + sig_line * 101,
    }


def test_every_listed_malformed_note_is_rejected(signed_notes):
    keys = _keys(signed_notes)
    golden = signed_notes["notes"][0]["note"]
    cases = _malformed(golden)
    assert set(cases) == set(signed_notes["malformed_notes_must_reject"])
    for desc, msg in cases.items():
        with pytest.raises(MalformedNote):
            note.open_note(msg, keys["PeterNeumann"]["vkey"])
        assert desc  # each case named in the vectors file
    # 16 copies of a signature are within limits (C2SP: accept at least 16); duplicates count once.
    sixteen = TEXT + "\n" + golden[len(TEXT) + 1 :] * 16
    assert len(note.open_note(sixteen, keys["PeterNeumann"]["vkey"]).signatures) == 1


def test_sign_refuses_bad_text():
    skey, _ = note.generate_signer("k")
    for text in ["", "no newline", "tab\there\n", "a\n— k forged\n"]:
        with pytest.raises(MalformedNote):
            note.sign(text, skey)


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "name+c74f20a3",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # id does not match
        "PeterNeumann+c74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+!!!",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ],
)
def test_bad_verifier_keys(vkey):
    with pytest.raises(KeyFormatError):
        note.parse_verifier(vkey)


def test_bad_signer_keys(signed_notes):
    good = _keys(signed_notes)["Log"]["skey"]
    for skey in ["", good.replace("PRIVATE+KEY", "PUBLIC+KEY"), good.replace("2271c621", "2271c622"), good[:-4]]:
        with pytest.raises(KeyFormatError):
            note.parse_signer(skey)
