"""A small HTTP/1.1 keep-alive load generator on raw asyncio streams.

Cheap enough per request that one Python process can load a single-worker server on this 2-core machine without
becoming the bottleneck first (each connection sends a pre-built request and reads the reply by Content-Length).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @staticmethod
    def merge(results: list[LoadResult]) -> LoadResult:
        """Several runs against the same server as one (rounds alternating with another server)."""
        return LoadResult(sum(r.requests for r in results), sum(r.errors for r in results),
                          sum(r.seconds for r in results), [x for r in results for x in r.latencies_ms])

    def summary(self) -> str:
        return (f"{self.rate:8.0f} req/s  p50 {self.percentile(50):6.2f} ms  p99 {self.percentile(99):6.2f} ms  "
                f"({self.requests} requests, {self.errors} errors)")


def build_request(url: str, headers: dict[str, str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return parts.hostname or "127.0.0.1", parts.port or 80, ("\r\n".join(lines) + "\r\n\r\n").encode()


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def worker(host: str, port: int, requests: list[bytes], deadline: float, latencies: list[float],
                 counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = 0
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(requests[i % len(requests)])
            i += 1
            status = await read_response(reader)
            latencies.append((time.perf_counter() - started) * 1000)
            counts[0] += 1
            if status != 200:
                counts[1] += 1
    finally:
        writer.close()


async def run(urls: list[str], headers: dict[str, str], *, seconds: float, connections: int) -> LoadResult:
    """GET the URLs round-robin over `connections` keep-alive connections for `seconds`."""
    built = [build_request(url, headers) for url in urls]
    host, port = built[0][0], built[0][1]
    requests = [b for _, _, b in built]
    latencies: list[float] = []
    counts = [0, 0]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(worker(host, port, requests[i:] + requests[:i], deadline, latencies, counts)
                           for i in range(connections)))
    return LoadResult(counts[0], counts[1], time.perf_counter() - started, latencies)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
