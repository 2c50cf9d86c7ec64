"""The official ``anthropic`` SDK parses everything the emulator's Messages API produces."""

from __future__ import annotations

import anthropic
import pytest
import pytest_asyncio

from emulator import PromptCache, anthropic_usage, count_input_tokens
from tests.emulator.helpers import KEY_A, anthropic_headers, parse_sse

WEATHER = {"name": "get_weather", "description": "Weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"},
                                                             "days": {"type": "integer"}},
                            "required": ["city", "days"]}}

pytestmark = pytest.mark.usefixtures("warm_sdks")


@pytest_asyncio.fixture(scope="module")
async def client(emu):
    async with anthropic.AsyncAnthropic(base_url=emu.base_url, api_key=KEY_A, max_retries=0) as c:
        yield c


async def test_create_non_streaming(client, emu):
    msg = await client.messages.create(model="claude-sonnet-5-5", max_tokens=64,
                                       messages=[{"role": "user", "content": "say hi"}])
    assert msg.type == "message" and msg.role == "assistant" and msg.model == "claude-sonnet-5-5"
    assert msg.stop_reason == "end_turn" and msg.id.startswith("msg_")
    assert [b.type for b in msg.content] == ["text"]
    assert len(msg.content[0].text.split()) == 12
    assert msg.usage.input_tokens == 2 and msg.usage.output_tokens == 12
    assert msg.usage.cache_read_input_tokens == 0 and msg.usage.cache_creation.ephemeral_5m_input_tokens == 0
    seen = emu.state.last_request["a"]
    assert seen["body"]["max_tokens"] == 64 and seen["headers"]["Authorization"] == f"Bearer {KEY_A}"
    assert emu.state.requests["a"] == 1


async def test_max_tokens_caps_the_output(client):
    msg = await client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert msg.stop_reason == "max_tokens" and msg.usage.output_tokens == 5
    assert len(msg.content[0].text.split()) == 5


async def test_stream_text_with_cumulative_usage(client, http):
    kwargs = dict(model="claude-opus-4-6", max_tokens=64, messages=[{"role": "user", "content": "say hi"}])
    async with client.messages.stream(**kwargs) as stream:
        text = "".join([t async for t in stream.text_stream])
        final = await stream.get_final_message()
    assert final.content[0].text == text and len(text.split()) == 12
    assert final.usage.output_tokens == 12 and final.stop_reason == "end_turn"
    # the raw wire: order, ping placement, message_start usage, cumulative message_delta
    resp = await http.post("/v1/messages?beta=true", headers=anthropic_headers(),
                           json={**kwargs, "stream": True})
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["request-id"].startswith("req_")
    events = parse_sse(resp.text)
    names = [n for n, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert names.count("content_block_delta") == 12
    start_usage = events[0][1]["message"]["usage"]
    assert start_usage["output_tokens"] == 1 and start_usage["input_tokens"] == 2
    assert set(start_usage["cache_creation"]) == {"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"}
    delta = dict(events)["message_delta"]
    assert delta["usage"]["output_tokens"] == 12 and delta["delta"]["stop_reason"] == "end_turn"


async def test_stream_thinking_and_tool_use(client):
    async with client.messages.stream(
            model="claude-sonnet-5-5", max_tokens=1024, thinking={"type": "enabled", "budget_tokens": 512},
            tools=[WEATHER], tool_choice={"type": "any"},
            messages=[{"role": "user", "content": "weather?"}]) as stream:
        kinds = [e.type async for e in stream]
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool = final.content
    assert len(thinking.thinking.split()) == 8 and thinking.signature
    assert len(text.text.split()) == 4  # 12 output tokens - 8 thinking
    assert tool.name == "get_weather" and tool.input == {"city": "emulated", "days": 1}
    assert final.stop_reason == "tool_use" and final.usage.output_tokens == 12
    assert "thinking" in kinds and "signature" in kinds and "input_json" in kinds


async def test_use_tool_trigger_word_and_adaptive_thinking_omitted(client):
    msg = await client.messages.create(
        model="m", max_tokens=100, tools=[WEATHER], thinking={"type": "adaptive", "display": "omitted"},
        messages=[{"role": "user", "content": [{"type": "text", "text": "please use_tool now"}]}],
        extra_headers={"x-emulator-output-tokens": "8"})
    assert [b.type for b in msg.content] == ["thinking", "tool_use"]  # no words left for text
    assert msg.content[0].thinking == "" and msg.content[0].signature
    assert msg.stop_reason == "tool_use" and msg.usage.output_tokens == 8
    plain = await client.messages.create(model="m", max_tokens=100, tools=[WEATHER],
                                         messages=[{"role": "user", "content": "no tool"}])
    assert [b.type for b in plain.content] == ["text"] and plain.stop_reason == "end_turn"


async def test_named_tool_choice(client):
    other = {"name": "other", "input_schema": {"type": "object", "properties": {}}}
    msg = await client.messages.create(model="m", max_tokens=100, tools=[other, WEATHER],
                                       tool_choice={"type": "tool", "name": "get_weather"},
                                       messages=[{"role": "user", "content": "x"}])
    assert msg.content[-1].name == "get_weather"


async def test_prompt_cache_read_on_the_second_identical_request(client):
    body = dict(model="claude-sonnet-5-5", max_tokens=64,
                system=[{"type": "text", "text": "You are a careful assistant. " * 40,
                         "cache_control": {"type": "ephemeral"}}],
                tools=[{**WEATHER, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
                messages=[{"role": "user", "content": "say hi"}])
    expected_cache = PromptCache()
    want1 = anthropic_usage(body, expected_cache)
    want2 = anthropic_usage(body, expected_cache)
    first = await client.messages.create(**body)
    async with client.messages.stream(**body) as stream:
        second = await stream.get_final_message()
    assert first.usage.model_dump(exclude_none=True) == want1
    assert second.usage.model_dump(exclude_none=True) == want2
    assert first.usage.cache_creation.ephemeral_1h_input_tokens > 0  # the tool's 1h breakpoint
    assert first.usage.cache_creation.ephemeral_5m_input_tokens > 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0 and second.usage.input_tokens == 2


async def test_caches_are_per_account(client, emu):
    body = dict(model="m", max_tokens=8, messages=[{"role": "user", "content": [
        {"type": "text", "text": "x" * 100, "cache_control": {"type": "ephemeral"}}]}])
    await client.messages.create(**body)
    msg = await client.with_options(api_key="emu-test-b").messages.create(**body)
    assert msg.usage.cache_creation_input_tokens == 25 and msg.usage.cache_read_input_tokens == 0


async def test_count_tokens_matches_the_message_total(client):
    body = dict(model="claude-sonnet-5-5", system="sys " * 10,
                messages=[{"role": "user", "content": [{"type": "text", "text": "x" * 50,
                                                        "cache_control": {"type": "ephemeral"}}]}])
    counted = await client.messages.count_tokens(**body)
    assert counted.input_tokens == count_input_tokens(body, "anthropic") == 10 + 13
    msg = await client.messages.create(max_tokens=10, **body)
    u = msg.usage
    assert u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens == counted.input_tokens


async def test_models_list(client):
    page = await client.models.list()
    ids = [m.id for m in page.data]
    assert {"claude-opus-5-5", "claude-sonnet-4-5", "claude-3-5-sonnet-20241022"} <= set(ids)
    assert all(m.type == "model" and m.display_name for m in page.data)
    model = await client.models.retrieve("claude-haiku-4-5")
    assert model.id == "claude-haiku-4-5"


async def test_errors_in_the_anthropic_envelope(client, emu):
    try:
        await client.with_options(api_key="nope").messages.create(
            model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    except anthropic.AuthenticationError as exc:
        assert exc.body["type"] == "error" and exc.body["error"]["type"] == "authentication_error"
    else:
        raise AssertionError("expected 401")
    try:
        await client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "x"}],
                                     extra_headers={"x-emulator-fault": "529"})
    except anthropic.APIStatusError as exc:
        assert exc.status_code == 529 and exc.body["error"]["type"] == "overloaded_error"
    else:
        raise AssertionError("expected 529")


async def test_use_tool_by_name_runs_a_harmless_echo(client):
    bash = {"name": "Bash", "input_schema": {"type": "object", "required": ["command"], "properties": {
        "command": {"type": "string"}, "description": {"type": "string"}}}}
    msg = await client.messages.create(
        model="m", max_tokens=100, tools=[WEATHER, bash],
        messages=[{"role": "user", "content": "please use_tool:Bash to print something"}])
    tool = msg.content[-1]
    assert tool.type == "tool_use" and tool.name == "Bash"
    assert tool.input == {"command": "echo jiuliu-emulator-tool-call"}
    # the tool's result comes back in a user turn without the trigger: the model answers in words
    after = await client.messages.create(
        model="m", max_tokens=100, tools=[WEATHER, bash],
        messages=[{"role": "user", "content": "please use_tool:Bash to print something"},
                  {"role": "assistant", "content": [tool.model_dump()]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id,
                                                "content": "jiuliu-emulator-tool-call"}]}])
    assert [b.type for b in after.content] == ["text"] and after.stop_reason == "end_turn"
