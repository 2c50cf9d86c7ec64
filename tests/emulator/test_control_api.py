"""The control API: list, patch and reset accounts; history; the Claude Code probe."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import httpx

from emulator import EmulatorAccount, default_accounts, make_emulator_app
from tests.emulator.helpers import KEY_A, KEY_B, anthropic_headers, openai_headers

ROOT = Path(__file__).resolve().parents[2]
MSG = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
    {"type": "text", "text": "x" * 40, "cache_control": {"type": "ephemeral"}}]}]}


async def test_list_accounts_with_counters(http):
    await http.post("/v1/messages", json=MSG, headers=anthropic_headers())
    await http.post("/v1/responses", json={"model": "gpt-5.4", "input": "x"}, headers=openai_headers(KEY_B))
    await http.post("/v1/responses", json={"model": "gpt-5.4", "input": "x"},
                    headers=openai_headers("unknown"))
    data = (await http.get("/_emulator/accounts")).json()
    by_name = {a["name"]: a for a in data["accounts"]}
    assert by_name["a"]["api_key"] == KEY_A and by_name["a"]["requests"] == 1
    assert by_name["b"]["requests"] == 1 and by_name["b"]["output_tokens"] == 12
    assert data["unauthorized"] == 1


async def test_patch_by_key_or_name(http, emu):
    resp = await http.patch(f"/_emulator/accounts/{KEY_A}", json={"fault": "503", "fail_next": 1})
    assert resp.status_code == 200 and resp.json()["fault"] == "503"
    resp = await http.patch("/_emulator/accounts/b", json={"output_tokens": 3, "latency_ms": 0.5})
    assert resp.json()["output_tokens"] == 3 and emu.state.by_name["b"].latency_ms == 0.5
    assert (await http.post("/v1/messages", json=MSG, headers=anthropic_headers())).status_code == 503
    assert (await http.get("/_emulator/accounts/a")).json()["faults"] == {"503": 1}
    msg = (await http.post("/v1/messages", json=MSG, headers=anthropic_headers(KEY_B))).json()
    assert msg["usage"]["output_tokens"] == 3


async def test_patch_rejects_bad_input(http):
    for body in ({"speed": 1}, {"output_tokens": "many"}, {"fault": "meteor"}, {"latency_ms": -1},
                 {"fail_next": True}):
        resp = await http.patch("/_emulator/accounts/a", json=body)
        assert resp.status_code == 400 and resp.json()["error"], body
    assert (await http.patch("/_emulator/accounts/a", content=b"[1]")).status_code == 400
    assert (await http.patch("/_emulator/accounts/nobody", json={})).status_code == 404
    assert (await http.get("/_emulator/accounts/nobody")).status_code == 404


async def test_reset_clears_counters_and_caches_and_optionally_knobs(http, emu):
    first = (await http.post("/v1/messages", json=MSG, headers=anthropic_headers())).json()["usage"]
    second = (await http.post("/v1/messages", json=MSG, headers=anthropic_headers())).json()["usage"]
    assert first["cache_creation_input_tokens"] == 10 and second["cache_read_input_tokens"] == 10
    await http.patch("/_emulator/accounts/a", json={"output_tokens": 2})
    assert (await http.post("/_emulator/reset")).json() == {"ok": True}
    assert emu.state.requests == {} and emu.state.last_request == {}
    third = (await http.post("/v1/messages", json=MSG, headers=anthropic_headers())).json()["usage"]
    assert third["cache_creation_input_tokens"] == 10 and third["output_tokens"] == 2
    await http.post("/_emulator/reset", json={"knobs": True})
    assert emu.state.by_name["a"].output_tokens == 12


async def test_history(http):
    await http.post("/v1/messages", json={**MSG, "stream": True}, headers=anthropic_headers())
    await http.post("/responses", json={"model": "gpt-5.4", "input": "x"},
                    headers=openai_headers(KEY_B, **{"x-emulator-fault": "500"}))
    records = (await http.get("/_emulator/history")).json()["requests"]
    assert records == [
        {"account": "a", "protocol": "anthropic", "path": "/v1/messages", "stream": True, "fault": None},
        {"account": "b", "protocol": "openai", "path": "/responses", "stream": False, "fault": "500"},
    ]
    only_b = (await http.get("/_emulator/history", params={"account": "b"})).json()["requests"]
    assert len(only_b) == 1


async def test_claude_code_probe_and_models_per_vendor(http):
    assert (await http.head("/api/hello")).status_code == 200
    anthropic_list = (await http.get("/v1/models", headers=anthropic_headers())).json()
    assert anthropic_list["has_more"] is False
    assert anthropic_list["first_id"] == anthropic_list["data"][0]["id"]
    openai_list = (await http.get("/models", headers=openai_headers())).json()
    assert openai_list["object"] == "list"
    assert (await http.get("/v1/models")).status_code == 401
    missing = await http.get("/v1/models/nope", headers=openai_headers())
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_app_building_does_no_io_and_rejects_duplicates():
    app = make_emulator_app(default_accounts(1, 2))
    assert sorted(app.emulator_state.accounts) == ["emu-anthropic-1", "emu-openai-1", "emu-openai-2"]
    try:
        make_emulator_app([EmulatorAccount("k"), EmulatorAccount("k")])
    except ValueError:
        pass
    else:
        raise AssertionError("duplicate keys must be refused")


async def test_run_emulator_serves_until_sigterm():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = ("from emulator import default_accounts, run_emulator; "
            f"run_emulator('127.0.0.1', {port}, default_accounts(1, 1))")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code, cwd=str(ROOT),
                                                stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(200):
                try:
                    resp = await client.post("/v1/responses", json={"model": "gpt-5.4", "input": "x"},
                                             headers=openai_headers("emu-openai-1"))
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.05)
            assert resp.status_code == 200 and resp.json()["status"] == "completed"
            listed = (await client.get("/_emulator/accounts")).json()["accounts"]
            assert [a["name"] for a in listed] == ["emu-anthropic-1", "emu-openai-1"]
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
