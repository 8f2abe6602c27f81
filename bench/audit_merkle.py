"""Audit Merkle core figures: appends/s, proof latency at 1M leaves, export verification time.

Run: .venv/bin/python bench/audit_merkle.py [--size 1000000] [--bundle 100000]
Pure Python + hashlib; entries are ~275-byte RFC 8785 JSON objects like the audit log's.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time

from core.audit import bundle, export, merkle, note
from core.audit.checkpoint import Checkpoint, sign_checkpoint
from core.audit.compact_range import CompactRange
from core.audit.memory_tree import MemoryTree


def _entry(i: int) -> bytes:
    return (
        f'{{"action":"record.read","agency":"dukcapil","client":"mpp-bekasi-{i % 500:03d}",'
        f'"facets":["civil","bpjs_kesehatan"],"outcome":"ok","purpose":"service.application","seq":{i},'
        f'"subject":"hmac:{i * 2654435761:064x}","ts":"2025-01-01T00:00:00Z"}}'
    ).encode()


def _per_call_us(fn, calls: list) -> str:
    times = []
    for args in calls:
        t = time.perf_counter()
        fn(*args)
        times.append((time.perf_counter() - t) * 1e6)
    times.sort()
    p99 = times[int(len(times) * 0.99)]
    return f"median {statistics.median(times):7.1f} us   p99 {p99:7.1f} us   max {times[-1]:8.1f} us"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=1_000_000, help="leaves in the tree (default 1,000,000)")
    ap.add_argument("--bundle", type=int, default=100_000, help="entries in the full bundle-verify run")
    args = ap.parse_args()
    n = args.size
    print(f"building {n:,} entries ...")
    entries = [_entry(i) for i in range(n)]

    t = time.perf_counter()
    hashes = [merkle.leaf_hash(e) for e in entries]
    dt_hash = time.perf_counter() - t

    tree = MemoryTree()
    t = time.perf_counter()
    for h in hashes:
        tree.append(h)
    dt_append = time.perf_counter() - t
    print(f"leaf hashing:                 {n / dt_hash:12,.0f} entries/s")
    print(f"MemoryTree.append (hashed):   {n / dt_append:12,.0f} leaves/s   ({dt_append:.2f} s for {n:,})")
    print(f"  hash + append together:     {n / (dt_hash + dt_append):12,.0f} entries/s")

    rng = random.Random(7)
    idx = [(rng.randrange(n), n) for _ in range(2000)]
    # Freeze the million objects built so far out of the cyclic GC, as a long-running server would
    # settle: otherwise an occasional full collection (~10 ms here) lands inside a timed call.
    gc.freeze()
    print(f"inclusion proof at {n:,}:    {_per_call_us(tree.inclusion_proof, idx)}")
    store_sub = merkle.store_subtree(tree)
    print(f"  via TreeStore.node():         {_per_call_us(lambda i, s: merkle.inclusion_proof(i, s, store_sub), idx)}")
    cons = [(rng.randrange(1, n), n) for _ in range(2000)]
    print(f"consistency proof to {n:,}:  {_per_call_us(tree.consistency_proof, cons)}")
    root = tree.root()
    i = idx[0][0]
    proof = tree.inclusion_proof(i)
    print(
        f"inclusion proof verification:  {_per_call_us(merkle.verify_inclusion, [(hashes[i], i, n, proof, root)] * 2000)}"
    )

    t = time.perf_counter()
    cr = CompactRange()
    cr.append_entries(entries)
    dt = time.perf_counter() - t
    assert cr.root() == root
    print(f"range root recomputation, {n:,} entries: {dt:.2f} s  ({n / dt:,.0f} entries/s)")
    t = time.perf_counter()
    assert merkle.root(hashes) == root
    print(f"  merkle.root over {n:,} leaf hashes: {time.perf_counter() - t:.2f} s")

    m = min(args.bundle, n)
    skey, vkey = note.generate_signer("bench.example/audit")
    small = MemoryTree(hashes[:m])
    signed = sign_checkpoint(Checkpoint("bench.example/audit", m, small.root()), skey)
    b = export.build_bundle(checkpoint=signed, store=small, start=0, entries=entries[:m])
    text = export.dumps(b)
    t = time.perf_counter()
    bundle.verify(text, vkey)
    dt = time.perf_counter() - t
    print(
        f"bundle.verify (JSON text, {len(text) / 1e6:.0f} MB, {m:,} entries with recorded hashes): "
        f"{dt:.2f} s  ({m / dt:,.0f} entries/s; ~{dt * n / m:.1f} s for {n:,})"
    )


if __name__ == "__main__":
    main()
