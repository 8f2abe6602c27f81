"""Hypothesis against the app in-process, beyond schemathesis' examples (which follow the OpenAPI document):
bodies that are not what any schema says (arbitrary JSON, raw bytes, deep or duplicate-keyed or unterminated
JSON), headers in any order and number (repeated, missing, odd values), query strings of any text. No answer may
be a 5xx, none may take longer than ANSWER_BOUND_S, and the process may not keep what the requests cost
(traced memory after the run, less before, under MEMORY_GROWTH). Bounded: MAX_EXAMPLES requests, well under a
minute; GERBANG_FUZZ_EXAMPLES changes it."""

from __future__ import annotations

import gc
import json
import os
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.registry import discover
from core.api.app import create_app
from core.demo import agency_environment
from core.settings import Settings
from tests.conftest import BUS_SECRETS, sqlite_with_client
from tests.core.conftest import COUNTER_CONTEXT, GENEROUS_LIMITS

MAX_EXAMPLES = int(os.environ.get("GERBANG_FUZZ_EXAMPLES", "200"))
ANSWER_BOUND_S = 3.0
MEMORY_GROWTH = 16 * 1024 * 1024
NIK = "3603282512770002"
ROUTES = [("GET", f"/v1/citizens/{NIK}"), ("GET", "/v1/citizens/{text}"), ("POST", f"/v1/citizens/{NIK}/verify"),
          ("POST", "/v1/applications"), ("GET", "/v1/applications"), ("GET", "/v1/applications/{text}"),
          ("POST", "/v1/subscriptions"), ("GET", "/v1/audit/entries"), ("GET", "/v1/agencies"),
          ("POST", "/console/login"), ("POST", "/v1/inbound/oss/receiveNIB"), ("GET", "/healthz"),
          ("POST", "/v1/admin/clients"), ("GET", "/{text}")]
HEADER_NAMES = ["Authorization", "Idempotency-Key", "Officer-Id", "Counter-Id", "Mpp-Site", "Content-Type",
                "Accept", "Origin", "Token", "X-Request-Id", "traceparent", "Sec-Fetch-Site", "X-Anything"]
CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x",
                 "application/problem+json", "application/json; charset=utf-16", ""]

# header values httpx can send: latin-1, no CR/LF/NUL
header_value = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80)
json_value = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
                          lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                                        max_size=5), max_leaves=30)
application = st.fixed_dictionaries({"nik": st.just(NIK) | st.text(max_size=20), "agency": st.sampled_from(
    ["oss", "samsat", "korlantas", "x"]), "service": st.text(max_size=20), "payload": json_value})
hostile_text = st.sampled_from([
    "[" * 5000, '{"a":' * 3000, "[" * 40 + '"' + '\\"' * 3000, '{"nik": "1", "nik": "2"}', '{"a": "\\ud800"}',
    '{"a": "\\u0000"}', "\ufeff{}", '"' * 4000, "{" + ",".join(f'"k{i}": {i}' for i in range(2000)) + "}",
    json.dumps({"plate": "B 1" + " " * 20000 + "!"}), "nik=" + "1" * 5000])


@st.composite
def requests(draw: Any) -> tuple[str, str, list[tuple[str, str]], bytes | None]:
    method, path = draw(st.sampled_from(ROUTES))
    path = path.replace("{text}", quote(draw(st.text(max_size=30)), safe=""))
    query = draw(st.lists(st.tuples(st.text(max_size=10), st.text(max_size=30)), max_size=4))
    if query:
        path += "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query)
    headers = draw(st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_value), max_size=6))
    if draw(st.booleans()):
        headers.append(("Content-Type", draw(st.sampled_from(CONTENT_TYPES))))
    body: bytes | None = None
    if method == "POST":
        kind = draw(st.sampled_from(["application", "json", "hostile", "bytes"]))
        body = (json.dumps(draw(application)).encode() if kind == "application" else
                json.dumps(draw(json_value)).encode() if kind == "json" else
                draw(hostile_text).encode("utf-8", "surrogatepass") if kind == "hostile" else
                draw(st.binary(max_size=512)))
    return method, path, headers, body


@pytest.fixture(scope="module")
def api(simulators: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    work = tmp_path_factory.mktemp("fuzz")
    url, key = sqlite_with_client(work, "fuzz")
    app = create_app(Settings(database_url=url, data_dir=Path(work), agency_timeout_s=1.0, lookup_budget_s=2.0,
                              agency_env=agency_environment(discover(), simulators), **BUS_SECRETS,
                              **GENEROUS_LIMITS))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, key


def test_no_request_is_a_5xx_slow_or_kept(api: tuple[TestClient, str]) -> None:
    client, key = api

    def one(request: tuple[str, str, list[tuple[str, str]], bytes | None], keyed: bool) -> None:
        method, path, headers, body = request
        if keyed:
            headers = [("Authorization", f"Bearer {key}"), *COUNTER_CONTEXT.items(), *headers]
        started = time.perf_counter()
        raw = [(name.encode(), value.encode("latin-1")) for name, value in headers]
        reply = client.request(method, path, headers=raw, content=body)
        elapsed = time.perf_counter() - started
        assert reply.status_code < 500, f"{method} {path} {headers} → {reply.status_code} {reply.text[:300]}"
        assert elapsed < ANSWER_BOUND_S, f"{method} {path} took {elapsed:.2f} s"

    def run(examples: int) -> None:
        settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                 suppress_health_check=list(HealthCheck))(given(request=requests(), keyed=st.booleans())(one))()

    run(20)  # caches, pools and lazy imports filled before memory is measured
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run(MAX_EXAMPLES)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert growth < MEMORY_GROWTH, f"the run kept {growth / 1e6:.1f} MB"
