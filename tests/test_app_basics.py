"""The app shell: health, Claude Code's probe, JSON 404/405 in each API family's envelope."""

from __future__ import annotations


async def test_healthz(relay):
    async with relay.client() as http:
        r = await http.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": True}


async def test_head_api_hello(relay):
    async with relay.client() as http:
        r = await http.head("/api/hello")
    assert r.status_code == 200 and r.content == b""


async def test_unknown_api_path_is_json_404(relay):
    async with relay.client() as http:
        r = await http.get("/api/nope")
        assert r.status_code == 404
        assert r.json() == {"error": {"message": "接口不存在", "type": "not_found_error"}}
        r = await http.post("/v1/nope", content=b"{}")
        assert r.status_code == 404
        assert r.json()["type"] == "error" and r.json()["error"]["type"] == "not_found_error"


async def test_wrong_method_is_json_405(relay):
    async with relay.client() as http:
        r = await http.post("/healthz")
    assert r.status_code == 405 and r.json()["error"]["type"] == "method_not_allowed"
