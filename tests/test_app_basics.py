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


async def test_the_loop_watch_catches_a_blocking_call(loop_watch):
    import asyncio
    import time

    before = len(loop_watch)
    done = asyncio.get_running_loop().create_future()

    def blocking() -> None:
        end = time.thread_time() + 0.35
        while time.thread_time() < end:  # CPU-bound work on the loop, as bcrypt would be
            pass
        done.set_result(None)

    asyncio.get_running_loop().call_soon(blocking)
    await done
    caught = loop_watch[before:]
    del loop_watch[before:]  # reported on purpose: keep this test green
    assert len(caught) == 1 and "blocking" in caught[0]
