"""The stream meter on hand-made events: reported usage wins, an estimate only when the final
usage never came, and the estimator agrees with the emulator's own counting."""

from __future__ import annotations

import orjson
import pytest

from server.pricing import estimate
from emulator import count_input_tokens
from server.relay.metering import StreamMeter, usage_from_body
from server.relay.sse import SseScanner
from tests.relay.support import FIXTURES, fixture


def sse(name: str, data: dict) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def feed(meter: StreamMeter, *events: bytes) -> None:
    for name, raw, data in SseScanner().feed(b"".join(events)):
        meter.observe(name, data, raw)


START = sse("message_start", {"type": "message_start", "message": {"id": "msg_1", "usage": {
    "input_tokens": 40, "cache_read_input_tokens": 8, "output_tokens": 1, "service_tier": "priority",
    "speed": "fast", "server_tool_use": {"web_search_requests": 0}}}})


def text(t: str, kind: str = "text_delta", field: str = "text") -> bytes:
    return sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": kind, field: t}})


def test_anthropic_final_usage_is_billed_as_reported():
    meter = StreamMeter("anthropic")
    feed(meter, START, text("你好世界"), sse("message_delta", {"type": "message_delta", "usage": {
        "input_tokens": 0, "output_tokens": 30, "server_tool_use": {"web_search_requests": 3}}}))
    usage = meter.billable()
    assert meter.final and not usage.estimated
    # A 0 input in message_delta does not erase message_start's 40.
    assert (usage.input, usage.cache_read, usage.output) == (40, 8, 30)
    assert (usage.web_search_requests, usage.service_tier, usage.speed) == (3, "priority", "fast")


def test_anthropic_cut_counts_text_tool_arguments_and_thinking():
    meter = StreamMeter("anthropic")
    # 12 bytes (4 CJK characters) + 5 + 4 + signature (not counted) = 21 bytes -> 6 tokens.
    feed(meter, START, text("你好世界"), text('{"a":', "input_json_delta", "partial_json"),
         text("hmm.", "thinking_delta", "thinking"), text("sig", "signature_delta", "signature"))
    usage = meter.billable()
    assert usage.estimate == "message_start+streamed" and usage.output == 6
    assert (usage.input, usage.cache_read, usage.service_tier) == (40, 8, "priority")


def test_responses_final_usage_with_searches_and_tier():
    meter = StreamMeter("openai", {"input": "x" * 400})
    done = {"id": "resp_1", "service_tier": "flex", "output": [
        {"type": "web_search_call"}, {"type": "web_search_call"}, {"type": "message"}],
        "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60}, "output_tokens": 9,
                  "output_tokens_details": {"reasoning_tokens": 4}}}
    feed(meter, sse("response.created", {"type": "response.created", "response": {"service_tier": "auto"}}),
         sse("response.output_text.delta", {"type": "response.output_text.delta", "delta": "hi"}),
         sse("response.completed", {"type": "response.completed", "response": done}))
    usage = meter.billable()
    assert not usage.estimated and (usage.input, usage.cache_read, usage.output, usage.reasoning) == (40, 60, 9, 4)
    assert usage.web_search_requests == 2 and usage.service_tier == "flex"


def test_responses_failed_with_usage_is_reported_without_usage_estimated():
    body = {"input": "x" * 400}
    with_usage = StreamMeter("openai", body)
    feed(with_usage, sse("response.failed", {"type": "response.failed", "response": {
        "usage": {"input_tokens": 7, "output_tokens": 2}}}))
    assert not with_usage.billable().estimated and with_usage.billable().input == 7
    cut = StreamMeter("openai", body)
    search_done = sse("response.output_item.done", {"type": "response.output_item.done",
                                                    "item": {"type": "web_search_call", "id": "ws_1"}})
    feed(cut, sse("response.created", {"type": "response.created", "response": {"service_tier": "priority"}}),
         search_done,
         sse("response.function_call_arguments.delta", {"type": "response.function_call_arguments.delta",
                                                        "delta": '{"city":"Paris"}'}),
         sse("response.failed", {"type": "response.failed", "response": {"error": {"code": "server_error"}}}))
    usage = cut.billable()
    # Input: 400 bytes -> 100; output: 16 bytes -> 4; the finished search counts; the tier as asked.
    assert usage.estimate == "request_body+streamed" and (usage.input, usage.output) == (100, 4)
    assert usage.web_search_requests == 1 and usage.service_tier == "priority"


def test_nothing_started_bills_nothing():
    assert StreamMeter("openai", {"input": "hello"}).billable().is_empty()
    assert StreamMeter("anthropic").billable().is_empty()


def test_json_bodies_carry_the_extras():
    anthropic = usage_from_body("anthropic", {"usage": {
        "input_tokens": 5, "output_tokens": 2, "service_tier": "standard",
        "server_tool_use": {"web_search_requests": 4}}})
    assert (anthropic.web_search_requests, anthropic.service_tier, anthropic.speed) == (4, "standard", "")
    responses = usage_from_body("openai", {"service_tier": "priority", "usage": {"input_tokens": 5},
                                           "output": [{"type": "web_search_call"}]})
    assert (responses.input, responses.web_search_requests, responses.service_tier) == (5, 1, "priority")


def test_tokens_for_bytes():
    assert [estimate.tokens_for_bytes(n) for n in (0, 1, 4, 5, 8)] == [0, 1, 1, 2, 2]


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("codex-*.json")))
def test_the_responses_input_estimate_is_the_emulators_count(name):
    """Calibration: on captured Codex requests the estimate equals what the emulator reports."""
    body = fixture(name)["body"]
    assert estimate.responses_input(body) == count_input_tokens(body, "openai") > 1000
