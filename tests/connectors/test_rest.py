"""connectors/rest.py: relative paths resolved once per client, to the URL httpx itself would have built."""

from __future__ import annotations

import asyncio

import httpx
import respx

from connectors.rest import _RESOLVED_MAX, make_client, resolve, send

PATHS = ["/a/b", "a/b?x=1&y=%20z", "/p%2Fq", "/", "/ruang spasi", "/é"]


def test_resolve_gives_what_httpx_builds() -> None:
    client = httpx.AsyncClient(base_url="http://127.0.0.1:9/sub")
    for path in PATHS:
        resolved = resolve(client, path)
        assert isinstance(resolved, httpx.URL)
        assert resolved == client.build_request("GET", path).url, path
    assert resolve(client, "/a/b") is resolve(client, "/a/b")  # kept, not rebuilt
    assert resolve(client, "http://elsewhere/x") == "http://elsewhere/x"  # absolute: untouched


def test_resolve_is_per_client_and_bounded() -> None:
    first = httpx.AsyncClient(base_url="http://one.test/v1")
    second = httpx.AsyncClient(base_url="http://two.test/v2/")
    assert str(resolve(first, "/x")) == "http://one.test/v1/x"
    assert str(resolve(second, "/x")) == "http://two.test/v2/x"
    for i in range(_RESOLVED_MAX + 10):  # paths with ids in them: still right past the bound, just not kept
        assert str(resolve(first, f"/status/{i}")) == f"http://one.test/v1/status/{i}"
    assert resolve(first, f"/status/{_RESOLVED_MAX + 5}") is not resolve(first, f"/status/{_RESOLVED_MAX + 5}")


@respx.mock
def test_send_reaches_the_same_url_with_params() -> None:
    route = respx.post("http://agency.test/api/submit", params={"q": "1"}).mock(
        return_value=httpx.Response(200, json={"ok": True}))

    async def main() -> httpx.Response:
        client = make_client("http://agency.test/api", transport=None)
        try:
            await send(client, "oss", "POST", "/submit", params={"q": "1"}, json={})
            return await send(client, "oss", "POST", "/submit", params={"q": "1"}, json={})
        finally:
            await client.aclose()

    assert asyncio.run(main()).json() == {"ok": True}
    assert route.call_count == 2
