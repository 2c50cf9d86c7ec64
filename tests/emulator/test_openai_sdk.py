"""The official ``openai`` SDK parses everything the emulator's Responses API produces."""

from __future__ import annotations

import openai
import pytest
import pytest_asyncio

from emulator import PromptCache, responses_usage
from tests.emulator.helpers import KEY_A, openai_headers, parse_sse

FUNC = {"type": "function", "name": "exec_command", "description": "run a command", "strict": False,
        "parameters": {"type": "object", "required": ["cmd"],
                       "properties": {"cmd": {"type": "string"}, "timeout": {"type": "number"}}}}

pytestmark = pytest.mark.usefixtures("warm_sdks")


@pytest_asyncio.fixture(scope="module")
async def client(emu):
    async with openai.AsyncOpenAI(base_url=emu.base_url + "/v1", api_key=KEY_A, max_retries=0) as c:
        yield c


async def test_create_non_streaming(client, emu):
    resp = await client.responses.create(model="gpt-5.4", input="say hi")
    assert resp.object == "response" and resp.status == "completed" and resp.model == "gpt-5.4"
    assert [o.type for o in resp.output] == ["message"]
    assert len(resp.output_text.split()) == 12
    assert resp.usage.input_tokens == 2 and resp.usage.output_tokens == 12 and resp.usage.total_tokens == 14
    assert resp.usage.input_tokens_details.cached_tokens == 0
    assert resp.usage.output_tokens_details.reasoning_tokens == 0
    assert emu.state.requests["a"] == 1 and emu.state.last_request["a"]["path"] == "/v1/responses"


async def test_stream_all_event_types_with_reasoning_summary(client, http):
    user = [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]
    kwargs = dict(model="gpt-5.4", input=user,
                  reasoning={"effort": "medium", "summary": "auto"}, include=["reasoning.encrypted_content"])
    async with client.responses.stream(**kwargs) as stream:
        types = [e.type async for e in stream]
        final = await stream.get_final_response()
    assert types[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert types[-1] == "response.completed"
    for t in ("response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
              "response.reasoning_summary_text.done", "response.reasoning_summary_part.done",
              "response.content_part.added", "response.output_text.delta", "response.output_text.done",
              "response.content_part.done", "response.output_item.done"):
        assert t in types, t
    assert [o.type for o in final.output] == ["reasoning", "message"]
    assert final.output[0].encrypted_content and final.output[0].summary[0].text
    assert final.usage.output_tokens == 12 and final.usage.output_tokens_details.reasoning_tokens == 8
    assert len(final.output_text.split()) == 4
    resp = await http.post("/v1/responses", headers=openai_headers(), json={**kwargs, "stream": True})
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["x-request-id"].startswith("req_")
    events = parse_sse(resp.text)
    assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
    assert all(name == data["type"] for name, data in events)
    assert [n for n, _ in events].count("response.output_text.delta") == 4


async def test_stream_function_call(client):
    async with client.responses.stream(model="gpt-5-codex", input="please use_tool", tools=[FUNC]) as stream:
        types = [e.type async for e in stream]
        final = await stream.get_final_response()
    assert "response.function_call_arguments.delta" in types
    assert "response.function_call_arguments.done" in types
    call = final.output[-1]
    assert call.type == "function_call" and call.name == "exec_command"
    assert call.arguments == '{"cmd":"emulated"}'
    assert call.call_id.startswith("call_")
    required = await client.responses.create(model="gpt-5.4", input="hello", tools=[FUNC],
                                             tool_choice="required")
    assert [o.type for o in required.output] == ["message", "function_call"]
    auto = await client.responses.create(model="gpt-5.4", input="hello", tools=[FUNC])
    assert [o.type for o in auto.output] == ["message"]


async def test_create_stream_true_raw_events(client):
    stream = await client.responses.create(model="gpt-5.4", input="hi", stream=True,
                                           reasoning={"effort": "low"})
    events = [e async for e in stream]
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage.output_tokens_details.reasoning_tokens == 8
    assert [e.sequence_number for e in events] == list(range(len(events)))


async def test_max_output_tokens_makes_the_response_incomplete(client):
    resp = await client.responses.create(model="gpt-5.4", input="hi", max_output_tokens=16,
                                         extra_headers={"x-emulator-output-tokens": "40"})
    assert resp.status == "incomplete" and resp.incomplete_details.reason == "max_output_tokens"
    assert resp.usage.output_tokens == 16
    stream = await client.responses.create(model="gpt-5.4", input="hi", max_output_tokens=16, stream=True,
                                           extra_headers={"x-emulator-output-tokens": "40"})
    events = [e async for e in stream]
    assert events[-1].type == "response.incomplete"


async def test_prompt_cache_key_second_call_reports_cached_tokens(client):
    body = dict(model="gpt-5.4", instructions="You are Codex. " * 30, input="fix the bug",
                prompt_cache_key="thread-1")
    expected = PromptCache()
    want1, want2 = responses_usage(body, expected), responses_usage(body, expected)
    first = await client.responses.create(**body)
    async with client.responses.stream(**body) as stream:
        second = await stream.get_final_response()
    assert first.usage.model_dump(exclude_none=True) == want1
    assert second.usage.model_dump(exclude_none=True) == want2
    assert second.usage.input_tokens_details.cached_tokens == first.usage.input_tokens > 0


async def test_models_list(client):
    page = await client.models.list()
    ids = [m.id for m in page.data]
    assert {"gpt-5.4", "gpt-5.4-mini", "gpt-5-codex"} <= set(ids)
    assert all(m.object == "model" and m.owned_by for m in page.data)


async def test_errors_in_the_openai_envelope(client, emu):
    try:
        await client.with_options(api_key="nope").responses.create(model="gpt-5.4", input="x")
    except openai.AuthenticationError as exc:
        assert exc.code == "invalid_api_key" and exc.type == "invalid_request_error"
    else:
        raise AssertionError("expected 401")
    try:
        await client.responses.create(model="gpt-5.4", input="x", extra_headers={"x-emulator-fault": "429"})
    except openai.RateLimitError as exc:
        assert exc.code == "rate_limit_exceeded" and exc.response.headers["retry-after"] == "2"
    else:
        raise AssertionError("expected 429")
    try:
        await client.responses.create(input="x")  # type: ignore[call-arg]
    except openai.BadRequestError as exc:
        assert exc.param == "model" and exc.code == "missing_required_parameter"
    else:
        raise AssertionError("expected 400")
