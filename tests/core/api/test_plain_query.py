"""The lookup's own query-string reading agrees with Starlette's `request.query_params` on every shape."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from core.api.citizens import plain_query

CASES = [b"", b"purpose=identity_check", b"purpose=a&purpose=b", b"purpose=vehicle_tax&facets=identity,vehicles",
         b"refresh", b"refresh=&purpose=x", b"&&purpose=x&", b"purpose=a=b", b"facets=a%2Cb&purpose=x",
         b"purpose=with+space", b"purpose=%E2%82%AC", b"purpose=\xe9t\xe9", b"=v&purpose=x", b"purpose=x;y"]


@pytest.mark.parametrize("raw", CASES)
def test_plain_query_reads_as_starlette_does(raw: bytes) -> None:
    def request() -> Request:
        return Request({"type": "http", "method": "GET", "path": "/", "query_string": raw, "headers": []})

    ours = plain_query(request())
    theirs = request().query_params
    assert dict(ours) == dict(theirs)
    assert all(ours.get(name) == theirs.get(name) for name in ("purpose", "facets", "refresh", "missing"))
