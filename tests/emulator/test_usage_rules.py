"""The deterministic token rules of ``emulator.usage``, without HTTP."""

from __future__ import annotations

import orjson
import pytest

from emulator import PromptCache, anthropic_usage, count_input_tokens, responses_usage, tokens_of
from emulator.usage import TTL_5M

EPHEMERAL = {"type": "ephemeral"}


def test_tokens_of_is_a_quarter_of_the_utf8_length_rounded_up():
    assert [tokens_of(s) for s in ("", "a", "abcd", "abcde", "é", "中文字")] == [0, 1, 1, 2, 1, 3]


def test_anthropic_input_counts_each_segment_on_its_own():
    tool = {"name": "t", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}
    result = {"type": "tool_result", "tool_use_id": "x", "content": "ok"}
    body = {"model": "m", "max_tokens": 10, "tools": [tool], "system": "You are helpful.",
            "messages": [{"role": "user", "content": "hello"},
                         {"role": "user", "content": [{"type": "text", "text": "abcdefgh"}, result]}]}
    tool_json = orjson.dumps({k: v for k, v in tool.items() if k != "cache_control"},
                             option=orjson.OPT_SORT_KEYS)
    expected = ((len(tool_json) + 3) // 4 + tokens_of("You are helpful.") + tokens_of("hello") + 2
                + (len(orjson.dumps(result, option=orjson.OPT_SORT_KEYS)) + 3) // 4)
    assert count_input_tokens(body, "anthropic") == expected
    with pytest.raises(ValueError):
        count_input_tokens(body, "gemini")


def _cached_body(system_text: str, ttl: str | None = None, user: str = "hi", model: str = "m") -> dict:
    cc = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    return {"model": model, "max_tokens": 100,
            "system": [{"type": "text", "text": system_text, "cache_control": cc}],
            "messages": [{"role": "user", "content": user}]}


def test_anthropic_cache_write_then_read_then_expiry():
    cache = PromptCache()
    body = _cached_body("s" * 400)  # 100 tokens of prefix, "hi" is 1 more
    first = anthropic_usage(body, cache, now=0)
    assert first == {"input_tokens": 1, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 0,
                     "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 0},
                     "output_tokens": 12, "service_tier": "standard"}
    second = anthropic_usage(_cached_body("s" * 400, user="another question"), cache, now=100)
    assert (second["cache_read_input_tokens"], second["cache_creation_input_tokens"]) == (100, 0)
    assert second["input_tokens"] == tokens_of("another question")
    # the read refreshed the entry: still there 299 s after it, gone 300 s after it
    assert anthropic_usage(body, cache, now=100 + TTL_5M - 1)["cache_read_input_tokens"] == 100
    assert anthropic_usage(body, cache, now=2 * (100 + TTL_5M))["cache_creation_input_tokens"] == 100
    # another model does not share the prefix
    other_model = anthropic_usage(_cached_body("s" * 400, model="m2"), cache, now=1000)
    assert other_model["cache_read_input_tokens"] == 0


def test_anthropic_1h_ttl_goes_to_the_1h_bucket_and_lives_an_hour():
    cache = PromptCache()
    body = _cached_body("s" * 80, ttl="1h")
    assert anthropic_usage(body, cache, now=0)["cache_creation"] == {
        "ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 20}
    assert anthropic_usage(body, cache, now=3000)["cache_read_input_tokens"] == 20


def test_anthropic_moving_breakpoint_reads_the_old_prefix_and_writes_the_rest():
    cache = PromptCache()
    system = [{"type": "text", "text": "a" * 40, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    turn1 = {"model": "m", "max_tokens": 5, "system": system, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "b" * 40, "cache_control": EPHEMERAL}]}]}
    u1 = anthropic_usage(turn1, cache, now=0)
    assert u1["cache_creation"] == {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 10}
    assert u1["input_tokens"] == 0 and u1["output_tokens"] == 5  # capped by max_tokens
    turn2 = {"model": "m", "max_tokens": 5, "system": system, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "b" * 40}]},
        {"role": "assistant", "content": "c" * 40},
        {"role": "user", "content": [{"type": "text", "text": "d" * 40, "cache_control": EPHEMERAL}]},
        {"role": "user", "content": "tail"}]}
    u2 = anthropic_usage(turn2, cache, now=10)
    assert u2["cache_read_input_tokens"] == 10  # the 1h system prefix; turn 1's breakpoint moved
    assert u2["cache_creation_input_tokens"] == 30 and u2["input_tokens"] == 1
    u3 = anthropic_usage(turn2, cache, now=20)
    assert (u3["cache_read_input_tokens"], u3["cache_creation_input_tokens"]) == (40, 0)


def test_prompt_cache_is_a_bounded_lru():
    cache = PromptCache(max_entries=2)
    cache.put("a", 1, 60, now=0)
    cache.put("b", 2, 60, now=0)
    assert cache.get("a", now=1) == 1  # a is now the most recent
    cache.put("c", 3, 60, now=1)
    assert len(cache) == 2 and cache.get("b", now=1) is None and cache.get("a", now=1) == 1
    assert cache.get("a", now=61) is None


def test_responses_usage_prompt_cache_key_reasoning_and_caps():
    cache = PromptCache()
    body = {"model": "gpt-5.4", "input": "x" * 400, "prompt_cache_key": "k", "reasoning": {"effort": "low"}}
    first = responses_usage(body, cache, now=0)
    assert first == {"input_tokens": 100,
                     "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                     "output_tokens": 12, "output_tokens_details": {"reasoning_tokens": 8},
                     "total_tokens": 112}
    longer = {**body, "input": "x" * 800, "max_output_tokens": 5}
    second = responses_usage(longer, cache, now=10)
    assert second["input_tokens_details"]["cached_tokens"] == 100 and second["input_tokens"] == 200
    assert second["output_tokens"] == 5 and second["output_tokens_details"]["reasoning_tokens"] == 5
    shorter = {"model": "gpt-5.4", "input": "x" * 40, "prompt_cache_key": "k"}
    third = responses_usage(shorter, cache, now=20)
    assert third["input_tokens_details"]["cached_tokens"] == 10  # min(previous, total)
    assert third["output_tokens_details"]["reasoning_tokens"] == 0
    assert responses_usage({**shorter, "prompt_cache_key": "other"}, cache, now=30)[
        "input_tokens_details"]["cached_tokens"] == 0
    assert responses_usage(shorter, cache, now=20 + 301)["input_tokens_details"]["cached_tokens"] == 0


def test_responses_input_counts_items_parts_and_tools():
    tool = {"type": "function", "name": "f", "parameters": {"type": "object"}}
    call = {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    body = {"model": "m", "instructions": "be brief", "tools": [tool], "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello there"}]},
        {"role": "assistant", "content": "ok"},
        call,
        {"type": "function_call_output", "call_id": "c1", "output": "result!!"}]}
    expected = (tokens_of("be brief") + (len(orjson.dumps(tool, option=orjson.OPT_SORT_KEYS)) + 3) // 4
                + tokens_of("hello there") + tokens_of("ok")
                + (len(orjson.dumps(call, option=orjson.OPT_SORT_KEYS)) + 3) // 4 + tokens_of("result!!"))
    assert count_input_tokens(body, "openai") == expected
    assert responses_usage(body, PromptCache())["input_tokens"] == expected
