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
        r = await http.post("/v1/nope", content=b"{}")  # no Anthropic header: OpenAI's envelope
        assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"


async def test_unknown_v1_paths_answer_json_in_the_callers_protocol_for_any_method(relay):
    async with relay.client() as http:
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            r = await http.request(method, "/v1/nope", headers={"x-api-key": "sk-x"})
            assert r.status_code == 404 and r.headers["content-type"].startswith("application/json"), method
            body = r.json()
            assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
            assert f"{method} /v1/nope" in body["error"]["message"]
            assert "POST /v1/messages" in body["error"]["message"]
        # no Anthropic header and no messages path: OpenAI's envelope
        r = await http.post("/v1/chat/completions", json={"model": "gpt-5.4"},
                            headers={"authorization": "Bearer sk-x"})
        assert r.status_code == 404
        err = r.json()["error"]
        assert err["type"] == "invalid_request_error" and err["code"] == "unknown_url"
        assert "POST /v1/chat/completions" in err["message"] and "POST /v1/responses" in err["message"]
        r = await http.head("/v1/nope")
        assert r.status_code == 404 and r.content == b""


async def test_a_doubled_v1_prefix_says_to_remove_it(relay):
    async with relay.client() as http:
        r = await http.post("/v1/v1/messages", json={}, headers={"anthropic-version": "2023-06-01"})
        assert r.status_code == 404 and r.json()["type"] == "error"
        assert "remove /v1 from the base URL" in r.json()["error"]["message"]
        r = await http.post("/v1/v1/responses", json={})
        assert r.status_code == 404 and "remove /v1 from the base URL" in r.json()["error"]["message"]


async def test_posts_outside_the_api_are_json_not_the_dashboards_html(relay):
    async with relay.client() as http:
        r = await http.post("/nope")
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
        assert r.json()["error"]["code"] == "unknown_url" and "POST /nope" in r.json()["error"]["message"]
        r = await http.post("/messages/batches", json={}, headers={"x-api-key": "sk-x"})
        assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
        r = await http.delete("/keys", headers={"anthropic-version": "2023-06-01"})
        assert r.status_code == 404 and r.json()["type"] == "error"
        # unknown GETs outside /v1 and /api are the dashboard's client-side routes
        r = await http.get("/keys")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        r = await http.post("/api/nope")
        assert r.json() == {"error": {"message": "接口不存在", "type": "not_found_error"}}


async def test_messages_without_v1_needs_a_key_like_v1_messages(relay):
    async with relay.client() as http:
        for path in ("/messages", "/messages/count_tokens"):
            r = await http.post(path, json={"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": []},
                                headers={"x-api-key": "sk-nope", "anthropic-version": "2023-06-01"})
            assert r.status_code == 401 and r.json()["error"]["message"] == "无效的 API Key", path


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
