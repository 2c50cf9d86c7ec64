"""Rules that fail safe and nothing of the upstream account reaching users (issue 13, points 6
and 8), over real HTTP: a partial rule set passes a client's 4xx through without cooling
anyone; errors that are the account's (credit too low, disabled organisation, OpenAI's
insufficient_quota) fail over and never reach the user; organisation headers and rate-limit
headers are dropped; organisation ids and account names are scrubbed from passed-through errors."""

from __future__ import annotations

import time

import pytest
import pytest_asyncio

from emulator.oddities import CREDIT_LOW, INSUFFICIENT_QUOTA, ORG_ID
from server.pools.rules import DEFAULT_RULES, ErrorRule, classify
from tests.relay.support import add_upstreams, make_key, make_user, start_pool_emulator

MSG = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
RESP = {"model": "gpt-5.4", "input": "hi"}
NAMES = ("acct-alpha", "acct-beta", "oai-gamma", "oai-delta")


@pytest_asyncio.fixture(scope="module")
async def setup(relay):
    emu = await start_pool_emulator(list(NAMES))
    await relay.deps.prices.seed_if_empty()
    await add_upstreams(relay.deps, emu, ["acct-alpha", "acct-beta"], "claude", "anthropic")
    await add_upstreams(relay.deps, emu, ["oai-gamma", "oai-delta"], "codex", "openai")
    user = await make_user(relay.deps.storage)
    keys = {"claude": await make_key(relay.deps.storage, user["_id"], "claude"),
            "codex": await make_key(relay.deps.storage, user["_id"], "codex")}
    yield emu, keys
    await emu.stop()


@pytest_asyncio.fixture(autouse=True)
async def at_rest(relay, setup):
    emu, _ = setup
    emu.state.reset(knobs=True)
    for account in await relay.deps.upstreams.list():
        await relay.deps.upstreams.set_state(account["_id"], "healthy")
    await relay.deps.storage.db.settings.delete_one({"_id": "error_rules"})
    await relay.deps.pools.reload()
    relay.deps.sticky._cache.clear()
    yield


async def _states(relay) -> dict[str, dict]:
    return {d["name"]: d["state"] for d in await relay.deps.upstreams.list()}


def _call(protocol, keys, turn):
    if protocol == "anthropic":
        return ("/v1/messages", {**MSG, "messages": [{"role": "user", "content": f"t{turn} {time.time()}"}]},
                {"x-api-key": keys["claude"]}, ("acct-alpha", "acct-beta"))
    return ("/v1/responses", {**RESP, "input": f"t{turn} {time.time()}"},
            {"authorization": f"Bearer {keys['codex']}"}, ("oai-gamma", "oai-delta"))


@pytest.mark.parametrize("fault, protocol, expected", [
    ("credit_low", "anthropic", "cooling"), ("org_disabled", "anthropic", "disabled"),
    ("insufficient_quota", "openai", "cooling"), ("credit_low", "openai", "cooling")])
async def test_account_errors_fail_over_and_never_reach_the_user(relay, setup, fault, protocol, expected):
    emu, keys = setup
    path, _, headers, (bad, good) = _call(protocol, keys, 0)
    emu.state.patch(bad, {"fault": fault})
    async with relay.client() as http:
        for stream in (False, True, False, True):
            _, body, _, _ = _call(protocol, keys, stream)
            r = await http.post(path, json={**body, "stream": stream}, headers=headers)
            assert r.status_code == 200, r.text
            assert b"credit" not in r.content and b"quota" not in r.content and b"organization" not in r.content
    state = (await _states(relay))[bad]
    assert state["status"] == expected and emu.state.requests[bad] == 1
    if expected == "cooling":
        assert state["cooldown_until"] - time.time() > 3000  # an hour: a top-up takes a while


async def test_all_accounts_out_of_credit_is_a_generic_503(relay, setup):
    emu, keys = setup
    for name in ("acct-alpha", "acct-beta"):
        emu.state.patch(name, {"fault": "credit_low"})
    async with relay.client() as http:
        r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": keys["claude"]})
    assert r.status_code == 503 and r.json()["type"] == "error"
    assert CREDIT_LOW[:20].encode() not in r.content and INSUFFICIENT_QUOTA[:20].encode() not in r.content


async def test_a_partial_rule_set_passes_client_errors_and_retries_5xx(relay, setup):
    emu, keys = setup
    # The operator kept only a 429 rule: nothing says what a 400, 404 or 500 does.
    await relay.deps.storage.db.settings.update_one(
        {"_id": "error_rules"}, {"$set": {"rules": [{"status": "429", "action": "cooldown_reset", "seconds": 60}]}},
        upsert=True)
    await relay.deps.pools.reload()
    async with relay.client() as http:
        for name in ("acct-alpha", "acct-beta"):
            emu.state.patch(name, {"fault": "400"})
        r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": keys["claude"]})
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"  # the client's own
        assert emu.state.requests["acct-alpha"] + emu.state.requests["acct-beta"] == 1  # not retried
        assert set(s["status"] for s in (await _states(relay)).values()) == {"healthy"}  # nobody cooled
        emu.state.patch("acct-beta", {"fault": None})
        emu.state.patch("acct-alpha", {"fault": "500"})
        for i in range(3):
            _, body, headers, _ = _call("anthropic", keys, i)
            assert (await http.post("/v1/messages", json=body, headers=headers)).status_code == 200
    alpha = (await _states(relay))["acct-alpha"]
    assert alpha["status"] == "cooling" and 0 < alpha["cooldown_until"] - time.time() <= 10  # briefly


def test_unmatched_failures_fall_back_safely():
    only = (ErrorRule("429", "cooldown", 5),)
    assert classify(only, "418").action == "pass" and classify(only, "404").action == "pass"
    assert classify(only, "503").action == "cooldown" and classify(only, "503").seconds <= 10
    assert classify(only, "connect").action == "cooldown"
    # The account's own errors are matched before "4xx: pass".
    assert classify(DEFAULT_RULES, "400", "invalid_request_error", CREDIT_LOW).action == "cooldown"
    assert classify(DEFAULT_RULES, "429", "insufficient_quota", INSUFFICIENT_QUOTA).seconds == 3600
    assert classify(DEFAULT_RULES, "400", "invalid_request_error", "max_tokens: too small").action == "pass"


@pytest.mark.parametrize("protocol", ["anthropic", "openai"])
async def test_account_headers_never_reach_the_user(relay, setup, protocol):
    emu, keys = setup
    path, body, headers, (first, second) = _call(protocol, keys, 0)
    async with relay.client() as http:
        answers = [await http.post(path, json={**body, "stream": s}, headers=headers) for s in (False, True)]
        emu.state.patch(first, {"fault": "400"})
        emu.state.patch(second, {"fault": "400"})
        answers.append(await http.post(path, json=body, headers=headers))
    assert [r.status_code for r in answers] == [200, 200, 400]
    for r in answers:
        names = {k.lower() for k in r.headers}
        assert "anthropic-organization-id" not in names and "openai-organization" not in names
        assert not any(n.startswith(("anthropic-ratelimit", "x-ratelimit")) for n in names)
        assert ("request-id" if protocol == "anthropic" else "x-request-id") in names  # kept
        assert r.headers["content-type"].startswith(("application/json", "text/event-stream"))


@pytest.mark.parametrize("protocol", ["anthropic", "openai"])
async def test_organisation_ids_and_account_names_are_scrubbed_from_passed_errors(relay, setup, protocol):
    emu, keys = setup
    path, body, headers, names = _call(protocol, keys, 0)
    for name in names:
        emu.state.patch(name, {"fault": "400_org"})
    async with relay.client() as http:
        r = await http.post(path, json=body, headers=headers)
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert "max_tokens is too large for organization" in message  # the useful part stays
    assert ORG_ID not in message and "org-Emu" not in message
    assert not any(name in message for name in NAMES)


def test_scrub_keeps_the_message_and_drops_the_account():
    from server.relay.exposure import scrub_error, scrub_text
    account = {"name": "acct-alpha"}
    text = ("Rate limit reached for gpt-5 in organization org-AbC123xyz on project proj_Q1w2E3r4 "
            "(key sk-ant-api03-AbCd***, account acct-alpha, org 3f2a9c1e-1b2c-4d5e-8f90-a1b2c3d4e5f6)")
    scrubbed = scrub_text(text, account)
    assert scrubbed == ("Rate limit reached for gpt-5 in organization org-*** on project proj_*** "
                        "(key sk-***, account ***, org ***)")
    assert scrub_text("acct-alphabet and my-acct-alpha stay", account) == "acct-alphabet and my-acct-alpha stay"
    raw = b'{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}'
    assert scrub_error(raw, account) is raw  # nothing to scrub: the very same bytes
