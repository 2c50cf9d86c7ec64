"""Codex sessions across a pool of two accounts whose encrypted context only its minter reads
(the emulator's): captured Codex requests replayed with reasoning items and a compaction item,
bindings that outlive the plain TTL, what happens when the minter cannot serve, and the repair
of an upstream ``invalid_encrypted_content``. Real HTTP, real database."""

from __future__ import annotations

import copy
import time

import orjson

from server.accounts.views import usage_row_view
from emulator.compaction import compaction_item
from emulator.sealed import seal
from tests.relay.support import fixture, parse_sse
from tests.support import RelayUnderTest

TURN = fixture("codex-0.169.0-turn.json")
TOOL = fixture("codex-0.169.0-function-call-output.json")


def _headers(key: str, kind: str = "turn") -> dict[str, str]:
    skip = {"host", "content-length", "authorization"}
    headers = {k: v for k, v in TURN["headers"] if k.lower() not in skip}
    headers["authorization"] = f"Bearer {key}"
    headers["x-codex-turn-metadata"] = headers["x-codex-turn-metadata"].replace(
        '"request_kind":"turn"', f'"request_kind":"{kind}"')
    return headers


async def _post(http, key: str, body: dict, kind: str = "turn"):
    return await http.post(TURN["path"], content=orjson.dumps(body), headers=_headers(key, kind))


def _output(r) -> list[dict]:
    """Output items of a streamed answer, from its ``response.output_item.done`` events."""
    assert r.status_code == 200, r.text
    return [data["item"] for name, data in parse_sse(r.content) if name == "response.output_item.done"]


async def _row(relay, r):
    return await relay.usage.wait_recorded(r.headers["x-jiuliu-request-id"])


def _first_turn() -> dict:
    return copy.deepcopy(TURN["body"])


def _tool_turn(*carried: dict) -> dict:
    """The captured second turn (same thread as the first), carrying earlier output items
    before its function call, as Codex sends them."""
    body = copy.deepcopy(TOOL["body"])
    body["prompt_cache_key"] = TURN["body"]["prompt_cache_key"]
    head, call = body["input"][:4], body["input"][4:]
    body["input"] = head + list(carried) + call
    return body


def _ids(pool) -> dict[str, str]:
    return {doc["name"]: doc["_id"] for doc in pool["codex"]}


def _other(name: str) -> str:
    return "o2" if name == "o1" else "o1"


async def _set(relay, account_id: str, status: str, seconds: float = 0.0) -> None:
    await relay.deps.upstreams.set_state(account_id, status, "test", time.time() + seconds if seconds else 0.0)
    await relay.deps.pools.reload()


async def _minted_turn(relay, http, key) -> tuple[str, dict]:
    r = await _post(http, key, _first_turn())
    reasoning = [item for item in _output(r) if item["type"] == "reasoning"]
    assert len(reasoning) == 1 and reasoning[0]["encrypted_content"]
    row = await _row(relay, r)
    relay.last_session = row.session_hash
    return row.account_name, reasoning[0]


async def test_reasoning_items_go_to_their_minter_by_binding_and_by_fingerprint(relay, pool, emu, codex_key):
    async with relay.client() as http:
        minter, reasoning = await _minted_turn(relay, http, codex_key)
        before = emu.state.requests[_other(minter)]
        for _ in range(3):  # round-robin alone would alternate accounts
            r = await _post(http, codex_key, _tool_turn(reasoning))
            assert _output(r) and (await _row(relay, r)).account_name == minter
        # Every binding gone (another process, a restart, an expiry): the blob itself routes.
        await relay.deps.storage.db.sticky.delete_many({})
        relay.deps.sticky._cache.clear()
        relay.deps.context._known.clear()
        for stream in (True, False):
            r = await _post(http, codex_key, {**_tool_turn(reasoning), "stream": stream})
            assert r.status_code == 200, r.text
            row = await _row(relay, r)
            assert row.account_name == minter and row.repairs == []
    assert emu.state.requests[_other(minter)] == before  # nothing was sent where it cannot be read


async def test_codex_session_resumed_after_the_plain_ttl_stays_on_its_account(relay, pool, emu, codex_key,
                                                                               monkeypatch):
    async with relay.client() as http:
        minter, reasoning = await _minted_turn(relay, http, codex_key)
        for i in range(3):  # plain sessions until round-robin's next pick is the *other* account
            plain = await http.post("/v1/responses", json={"model": "gpt-5.4", "input": "plain",
                                                           "prompt_cache_key": f"p{i}"},
                                    headers={"authorization": f"Bearer {codex_key}"})
            plain_row = await _row(relay, plain)
            if plain_row.account_name == minter:
                break
        assert plain_row.account_name == minter
        start = time.time()
        monkeypatch.setattr(relay.deps.clock, "now", lambda: start + relay.settings.sticky_ttl + 600)
        relay.deps.sticky._cache.clear()
        assert await relay.deps.sticky.get(plain_row.session_hash) is None  # plain sessions: today's TTL
        for _ in range(2):
            r = await _post(http, codex_key, _tool_turn(reasoning))
            assert _output(r) and (await _row(relay, r)).account_name == minter


async def test_compaction_through_the_relay_and_what_happens_when_its_minter_cannot_serve(
        relay, pool, emu, codex_key):
    ids = _ids(pool)
    async with relay.client() as http:
        minter, reasoning = await _minted_turn(relay, http, codex_key)
        compact = _tool_turn(reasoning)
        compact["input"].append({"type": "compaction_trigger"})
        r = await _post(http, codex_key, compact, kind="compaction")
        done = _output(r)
        assert [item["type"] for item in done] == ["compaction"]  # exactly one, as Codex requires
        row = await _row(relay, r)
        assert row.account_name == minter and row.cost().total > 0
        later = _first_turn()
        later["input"] = later["input"][:3] + [done[0], {"type": "message", "role": "user",
                                                         "content": [{"type": "input_text", "text": "go on"}]}]
        r = await _post(http, codex_key, later)
        assert _output(r) and (await _row(relay, r)).account_name == minter
        other_before = emu.state.requests[_other(minter)]

        await _set(relay, ids[minter], "cooling", 20)  # short cooldown: wait, do not move
        r = await _post(http, codex_key, later)
        assert r.status_code == 429 and 18 <= int(r.headers["retry-after"]) <= 20
        assert r.json()["error"]["type"] == "rate_limit_error" and minter in r.json()["error"]["message"]

        await _set(relay, ids[minter], "cooling", 0.3)  # back in a moment: the request waits for it
        r = await _post(http, codex_key, later)
        assert _output(r) and (await _row(relay, r)).account_name == minter

        await _set(relay, ids[minter], "disabled")  # gone: a compaction item cannot move
        r = await _post(http, codex_key, later)
        assert r.status_code == 400 and r.headers.get("x-should-retry") == "false"
        error = r.json()["error"]
        assert set(error) == {"message", "type", "code", "param"} and error["type"] == "invalid_request_error"
        assert "compaction" in error["message"] and "/new" in error["message"] and minter in error["message"]
        assert (await _row(relay, r)).outcome == "error"
    assert emu.state.requests[_other(minter)] == other_before  # never sent where history would be lost


async def test_minter_gone_moves_the_session_and_drops_its_reasoning(relay, pool, emu, codex_key):
    ids = _ids(pool)
    async with relay.client() as http:
        minter, reasoning = await _minted_turn(relay, http, codex_key)
        other = _other(minter)
        await _set(relay, ids[minter], "cooling", 3600)  # longer than a client would wait
        r = await _post(http, codex_key, _tool_turn(reasoning))
        newer = [item for item in _output(r) if item["type"] == "reasoning"]
        row = await _row(relay, r)
        assert row.account_name == other and row.outcome == "ok"
        assert len(row.repairs) == 1 and "dropped 1 encrypted reasoning" in row.repairs[0]
        await relay.deps.recorder.flush()
        stored = await relay.deps.storage.db.usage.find_one({"_id": row.request_id})
        assert stored["repairs"] == row.repairs and stored["cost"] > 0  # logged and billed
        assert usage_row_view(stored)["repairs"] == ["encrypted_context"]  # the user's log: no account names
        sent = emu.state.last_request[other]["body"]["input"]
        assert not any(item.get("type") == "reasoning" for item in sent)
        assert any(item.get("type") == "function_call_output" for item in sent)  # the rest is intact
        # Next turn: Codex resends both accounts' reasoning; the session stays where it moved.
        await _set(relay, ids[minter], "healthy")
        r = await _post(http, codex_key, _tool_turn(reasoning, *newer))
        row = await _row(relay, r)
        assert _output(r) and row.account_name == other and "dropped 1" in row.repairs[0]
        kept = [item for item in emu.state.last_request[other]["body"]["input"] if item.get("type") == "reasoning"]
        assert kept == newer


async def test_upstream_invalid_encrypted_content_is_retried_on_the_minter_and_never_cools(
        relay, pool, emu, codex_key, monkeypatch):
    ids = _ids(pool)
    async with relay.client() as http:
        minter, reasoning = await _minted_turn(relay, http, codex_key)
        other = _other(minter)
        # The request reaches the wrong account: its fingerprint was not visible yet when the
        # request was routed (another process's write), and the session was bound elsewhere.
        store = relay.deps.context.store
        real = store.minters
        calls = []

        async def late(fps, now):
            calls.append(len(fps))
            return {} if len(calls) == 1 else await real(fps, now)

        monkeypatch.setattr(store, "minters", late)
        relay.deps.context._known.clear()  # as in another process, which did not mint it
        session = relay.last_session
        relay.deps.sticky._cache.clear()
        await relay.deps.storage.db.sticky.delete_many({"_id": session})
        await relay.deps.sticky.put(session, ids[other])
        r = await _post(http, codex_key, _tool_turn(reasoning))
        row = await _row(relay, r)
        assert _output(r) and row.account_name == minter and row.attempts == 2
        assert row.repairs == [f"encrypted_context: {other} could not read it; retried on the minting account {minter}"]
    states = {doc["name"]: doc["state"]["status"] for doc in await relay.deps.upstreams.list()}
    assert states[other] == "healthy"  # the refusal was not the account's fault


async def test_unknown_blobs_are_dropped_but_an_unknown_compaction_is_a_clear_error(relay, pool, emu, codex_key):
    ids = _ids(pool)
    # Blobs minted outside this relay (no fingerprint): the bound account refuses them.
    foreign = {"type": "reasoning", "id": "rs_x", "summary": [],
               "encrypted_content": seal("emu-key-o1", "reasoning")}
    async with relay.client() as http:
        first = await _post(http, codex_key, {**_first_turn(), "reasoning": None, "include": []})
        session = (await _row(relay, first)).session_hash
        relay.deps.sticky._cache.clear()
        await relay.deps.storage.db.sticky.delete_many({"_id": session})
        await relay.deps.sticky.put(session, ids["o2"])
        r = await _post(http, codex_key, _tool_turn(foreign))
        row = await _row(relay, r)
        assert _output(r) and row.account_name == "o2" and row.attempts == 2
        assert "o2 answered invalid_encrypted_content; dropped 1" in row.repairs[0]
        lost = _first_turn()
        lost["input"] = lost["input"][:3] + [compaction_item("emu-key-o1"),
                                             {"type": "message", "role": "user", "content": "next"}]
        r = await _post(http, codex_key, lost)
        assert r.status_code == 400 and "compaction" in r.json()["error"]["message"]
        assert "could not be verified" not in r.text  # never the bare upstream 400
    states = {doc["name"]: doc["state"]["status"] for doc in await relay.deps.upstreams.list()}
    assert states["o2"] == "healthy"


async def test_another_relay_process_routes_by_the_fingerprint(relay, storage, pool, emu, codex_key):
    """A blob minted through one process (non-streaming) is routed by a second one that never
    saw the session (a restart, or a second worker with its own caches)."""
    async with relay.client() as http:
        r = await _post(http, codex_key, {**_first_turn(), "stream": False})
        assert r.status_code == 200, r.text
        reasoning = next(item for item in r.json()["output"] if item["type"] == "reasoning")
        minter = (await _row(relay, r)).account_name
    await relay.deps.storage.db.sticky.delete_many({})
    second = await RelayUnderTest.start(storage)
    try:
        async with second.client() as http:
            for _ in range(2):
                r = await _post(http, codex_key, _tool_turn(reasoning))
                assert _output(r)
                row = await second.usage.wait_recorded(r.headers["x-jiuliu-request-id"])
                assert row.account_name == minter and row.attempts == 1
    finally:
        await second.stop()


async def test_minter_failing_now_answers_429_instead_of_moving(relay, pool, emu, codex_key):
    async with relay.client() as http:
        minter, reasoning = await _minted_turn(relay, http, codex_key)
        before = emu.state.requests[_other(minter)]
        emu.state.patch(minter, {"fault": "500", "fail_next": 1})  # its error rule cools it 30 s
        r = await _post(http, codex_key, _tool_turn(reasoning))
        assert r.status_code == 429 and 25 <= int(r.headers["retry-after"]) <= 30, r.text
        assert emu.state.requests[_other(minter)] == before  # the reasoning was not thrown away


async def test_refused_on_a_non_minter_while_the_minter_cools_briefly_answers_429(relay, pool, emu, codex_key,
                                                                                   monkeypatch):
    ids = _ids(pool)
    async with relay.client() as http:
        minter, reasoning = await _minted_turn(relay, http, codex_key)
        other = _other(minter)
        store, calls = relay.deps.context.store, []
        real = store.minters

        async def late(fps, now):
            calls.append(len(fps))
            return {} if len(calls) == 1 else await real(fps, now)

        monkeypatch.setattr(store, "minters", late)
        relay.deps.context._known.clear()
        relay.deps.sticky._cache.clear()
        await relay.deps.storage.db.sticky.delete_many({"_id": relay.last_session})
        await relay.deps.sticky.put(relay.last_session, ids[other])
        await _set(relay, ids[minter], "cooling", 20)
        r = await _post(http, codex_key, _tool_turn(reasoning))
        assert r.status_code == 429 and 18 <= int(r.headers["retry-after"]) <= 20, r.text
        assert minter in r.json()["error"]["message"]
        row = await _row(relay, r)
        assert row.repairs == [f"encrypted_context: {other} could not read it; its minting account {minter} is 冷却中"]
    states = {doc["name"]: doc["state"]["status"] for doc in await relay.deps.upstreams.list()}
    assert states[other] == "healthy"
