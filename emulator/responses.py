"""The OpenAI Responses API: ``POST /v1/responses`` and ``POST /responses`` (JSON or SSE).

Output items (see ``usage.py`` for the token rules), in this order:

- ``reasoning`` when ``reasoning`` asks for an effort (or a summary); with ``reasoning.summary``
  it carries one summary part (streamed as ``response.reasoning_summary_*`` events); with
  ``include: ["reasoning.encrypted_content"]`` an opaque ``encrypted_content`` that only the
  minting account can read back (another answers 400 ``invalid_encrypted_content``);
- ``web_search_call`` items, as many as the ``web_searches`` knob asks (none by default);
- ``message`` with one ``output_text`` part of deterministic words (omitted when a function is
  called and no words are left);
- ``function_call`` for the first function tool (or the one ``tool_choice`` names) when
  ``tool_choice`` is "required"/a function, or the last input item is a user message whose text
  says "use_tool",
  unless the output was cut by ``max_output_tokens``.

A request whose last input item is ``compaction_trigger`` gets exactly one ``compaction`` item
instead (``compaction.py``).

A response cut by ``max_output_tokens`` is ``incomplete`` (reason ``max_output_tokens``) and
its stream ends with ``response.incomplete`` instead of ``response.completed``. Every event
carries ``sequence_number`` from 0.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from emulator.accounts import EmulatorAccount, Knobs
from emulator.base import ApiError, ApiHandler, Frame, sse
from emulator.compaction import check_encrypted, compaction_item, compaction_stream, wants_compaction
from emulator.content import (
    SUMMARY_TEXT,
    mentions_use_tool,
    new_id,
    sample_arguments,
    text_deltas,
    text_deltas_json,
)
from emulator.faults import OPENAI, OPENAI_STREAM_ERROR
from emulator.sealed import seal
from emulator.usage import responses_usage, wants_reasoning

_JSON_CHUNK = 16  # characters of arguments per function_call_arguments.delta
_SUMMARY_WORDS = tuple(w if i == 0 else " " + w for i, w in enumerate(SUMMARY_TEXT.split(" ")))


def _last_user_text(body: dict) -> str:
    items = body.get("input")
    if isinstance(items, str):
        return items
    for item in reversed(items or ()):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return " ".join(p.get("text", "") for p in content or () if isinstance(p, dict)
                            and isinstance(p.get("text"), str))
    return ""


def pick_function(body: dict) -> dict | None:
    """The function tool the emulated model calls, or None (see the module docstring)."""
    tools = [t for t in body.get("tools") or () if isinstance(t, dict) and t.get("type") == "function"
             and isinstance(t.get("name"), str)]
    choice = body.get("tool_choice")
    if not tools or choice == "none":
        return None
    if isinstance(choice, dict) and choice.get("type") == "function":
        return next((t for t in tools if t["name"] == choice.get("name")), tools[0])
    if choice == "required" or (mentions_use_tool(_last_user_text(body)) and _awaits_answer(body)):
        return tools[0]
    return None


def _awaits_answer(body: dict) -> bool:
    """The trigger word acts once per user message: not after the tool's output came back (nor
    after a compaction), so a real client's tool loop ends as a real model's would."""
    items = body.get("input")
    if not isinstance(items, list) or not items:
        return True
    last = items[-1]
    return isinstance(last, dict) and last.get("role") == "user"


def _response(body: dict, rid: str, created: int, status: str, output: list, usage: dict | None,
              service_tier: str = "default", **extra: Any) -> dict:
    reasoning = body.get("reasoning")
    if not isinstance(reasoning, dict):
        reasoning = {}
    return {
        "id": rid, "object": "response", "created_at": created, "status": status, "background": False,
        "error": None, "incomplete_details": None, "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"), "max_tool_calls": body.get("max_tool_calls"),
        "model": body["model"], "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "safety_identifier": body.get("safety_identifier"), "service_tier": service_tier,
        "store": body.get("store", True), "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools") or [], "top_logprobs": 0,
        "top_p": body.get("top_p", 1.0), "truncation": body.get("truncation", "disabled"), "usage": usage,
        "user": body.get("user"), "metadata": body.get("metadata") or {}, **extra,
    }


class _Plan:
    """The output items of one response, final and (for streams) as "added" skeletons."""

    def __init__(self, body: dict, usage: dict, requested: int, searches: int = 0,
                 account_key: str = "") -> None:
        out = usage["output_tokens"]
        # Web searches the model made (the web_searches knob), before its answer.
        self.searches = [{"id": new_id("ws_"), "type": "web_search_call", "status": "completed",
                          "action": {"type": "search", "query": "emulated search"}} for _ in range(searches)]
        self.truncated = requested > out
        self.status = "incomplete" if self.truncated else "completed"
        self.reasoning: dict | None = None
        self.summary = False
        if wants_reasoning(body):
            self.summary = bool(body["reasoning"].get("summary"))
            self.reasoning = {"id": new_id("rs_"), "type": "reasoning", "summary": []}
            if "reasoning.encrypted_content" in (body.get("include") or ()):
                self.reasoning["encrypted_content"] = seal(account_key, "reasoning")
        tool = None if self.truncated else pick_function(body)
        self.words = out - usage["output_tokens_details"]["reasoning_tokens"]
        self.message: dict | None = None
        if self.words > 0 or tool is None:
            self.message = {"id": new_id("msg_"), "type": "message", "status": "in_progress",
                            "content": [], "role": "assistant"}
        self.call: dict | None = None
        self.arguments = ""
        if tool is not None:
            self.arguments = orjson.dumps(sample_arguments(tool.get("parameters"))).decode()
            self.call = {"id": new_id("fc_"), "type": "function_call", "status": "in_progress",
                         "arguments": "", "call_id": new_id("call_"), "name": tool["name"]}

    def text(self) -> str:
        return "".join(text_deltas(self.words))

    def part(self) -> dict:
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": self.text()}

    def final_output(self) -> list[dict]:
        output = []
        if self.reasoning is not None:
            summary = [{"type": "summary_text", "text": SUMMARY_TEXT}] if self.summary else []
            output.append({**self.reasoning, "summary": summary})
        output += self.searches
        if self.message is not None:
            output.append({**self.message, "status": self.status, "content": [self.part()]})
        if self.call is not None:
            output.append({**self.call, "status": "completed", "arguments": self.arguments})
        return output

    def delta_count(self) -> int:
        return (len(_SUMMARY_WORDS) if self.summary else 0) + (self.words if self.message else 0) + (
            -(-len(self.arguments) // _JSON_CHUNK) if self.call else 0)


class _Events:
    """Frames with consecutive sequence numbers."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def add(self, kind: str, fields: dict, delta: bool = False) -> None:
        self.frames.append((delta, sse(kind, {"type": kind, **fields, "sequence_number": len(self.frames)})))

    def add_response(self, kind: str, response: bytes) -> None:
        """``add(kind, {"response": ...})`` with the response already serialised (it is sent twice)."""
        event = kind.encode()
        self.frames.append((False, b'event: %b\ndata: {"type":"%b","response":%b,"sequence_number":%d}\n\n'
                            % (event, event, response, len(self.frames))))

    def text_deltas(self, item_id: str, index: int, words: tuple[bytes, ...]) -> None:
        """Text deltas of words given as JSON strings."""
        head = (b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
                b'"item_id":"' + item_id.encode() + b'","output_index":' + str(index).encode()
                + b',"content_index":0,"delta":')
        first = len(self.frames)
        self.frames += [(True, b'%b%b,"logprobs":[],"sequence_number":%d}\n\n' % (head, w, first + i))
                        for i, w in enumerate(words)]


def build_stream(body: dict, usage: dict, requested: int, searches: int = 0,
                 service_tier: str = "default", account_key: str = "") -> tuple[list[Frame], dict]:
    """Every SSE frame of the streamed response, and the in-progress response object."""
    plan = _Plan(body, usage, requested, searches, account_key)
    rid, created = new_id("resp_"), int(time.time())
    pending = _response(body, rid, created, "in_progress", [], None, service_tier)
    ev = _Events()
    serialised = orjson.dumps(pending)
    ev.add_response("response.created", serialised)
    ev.add_response("response.in_progress", serialised)
    final = plan.final_output()
    index = 0
    if plan.reasoning is not None:
        rs = plan.reasoning["id"]
        ev.add("response.output_item.added", {"output_index": index, "item": plan.reasoning})
        if plan.summary:
            loc = {"item_id": rs, "output_index": index, "summary_index": 0}
            ev.add("response.reasoning_summary_part.added",
                   {**loc, "part": {"type": "summary_text", "text": ""}})
            for w in _SUMMARY_WORDS:
                ev.add("response.reasoning_summary_text.delta", {**loc, "delta": w}, delta=True)
            ev.add("response.reasoning_summary_text.done", {**loc, "text": SUMMARY_TEXT})
            ev.add("response.reasoning_summary_part.done",
                   {**loc, "part": {"type": "summary_text", "text": SUMMARY_TEXT}})
        ev.add("response.output_item.done", {"output_index": index, "item": final[index]})
        index += 1
    for search in plan.searches:
        ev.add("response.output_item.added",
               {"output_index": index, "item": {**search, "status": "in_progress"}})
        ev.add("response.web_search_call.completed", {"output_index": index, "item_id": search["id"]})
        ev.add("response.output_item.done", {"output_index": index, "item": search})
        index += 1
    if plan.message is not None:
        mid = plan.message["id"]
        loc = {"item_id": mid, "output_index": index, "content_index": 0}
        ev.add("response.output_item.added", {"output_index": index, "item": plan.message})
        ev.add("response.content_part.added",
               {**loc, "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}})
        ev.text_deltas(mid, index, text_deltas_json(plan.words))
        ev.add("response.output_text.done", {**loc, "text": plan.text(), "logprobs": []})
        ev.add("response.content_part.done", {**loc, "part": plan.part()})
        ev.add("response.output_item.done", {"output_index": index, "item": final[index]})
        index += 1
    if plan.call is not None:
        loc = {"item_id": plan.call["id"], "output_index": index}
        ev.add("response.output_item.added", {"output_index": index, "item": plan.call})
        for i in range(0, len(plan.arguments), _JSON_CHUNK):
            ev.add("response.function_call_arguments.delta",
                   {**loc, "delta": plan.arguments[i:i + _JSON_CHUNK]}, delta=True)
        ev.add("response.function_call_arguments.done", {**loc, "arguments": plan.arguments})
        ev.add("response.output_item.done", {"output_index": index, "item": final[index]})
    done = _finished(pending, plan, final, usage)
    ev.add("response.incomplete" if plan.truncated else "response.completed", {"response": done})
    return ev.frames, pending


def _finished(pending: dict, plan: _Plan, output: list, usage: dict) -> dict:
    """The final response from the in-progress one (same keys, same order: only values change)."""
    if plan.truncated:
        return {**pending, "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"},
                "output": output, "usage": usage}
    return {**pending, "status": "completed", "output": output, "usage": usage,
            "completed_at": int(time.time())}


class ResponsesHandler(ApiHandler):
    """``POST /v1/responses`` and ``POST /responses``."""

    protocol = OPENAI

    def validate(self, body: dict) -> None:
        if not body.get("model"):
            raise ApiError(400, "Missing required parameter: 'model'.", param="model",
                           code="missing_required_parameter")
        if not isinstance(body["model"], str):
            raise ApiError(400, "Invalid type for 'model': expected a string.", param="model",
                           code="invalid_type")
        items = body.get("input")
        if items is not None and not isinstance(items, (str, list)):
            raise ApiError(400, "Invalid type for 'input': expected a string or an array.", param="input",
                           code="invalid_type")
        for i, item in enumerate(items if isinstance(items, list) else ()):
            content = item.get("content") if isinstance(item, dict) else None
            if not isinstance(item, dict) or not isinstance(content, (str, list, type(None))) or (
                    isinstance(content, list) and not all(isinstance(p, dict) for p in content)):
                raise ApiError(400, f"Invalid value for 'input[{i}]': expected an input item.",
                               param=f"input[{i}]", code="invalid_value")
        tools = body.get("tools")
        if tools is not None and (not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools)):
            raise ApiError(400, "Invalid type for 'tools': expected an array of objects.", param="tools",
                           code="invalid_type")
        if body.get("reasoning") is not None and not isinstance(body["reasoning"], dict):
            raise ApiError(400, "Invalid type for 'reasoning': expected an object.", param="reasoning",
                           code="invalid_type")
        limit = body.get("max_output_tokens")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            raise ApiError(400, "Invalid 'max_output_tokens': expected a positive integer.",
                           param="max_output_tokens", code="invalid_value")

    async def respond(self, account: EmulatorAccount, body: dict, knobs: Knobs, stream: bool,
                      fault: str | None) -> None:
        check_encrypted(account.api_key, body)
        compact = wants_compaction(body)
        cache = self.state.responses_cache(account.name)
        usage = responses_usage(body, cache, output_tokens=knobs.output_tokens)
        tier = knobs.service_tier or "default"
        if compact:
            await self._compact(account, body, knobs, stream, fault, usage)
            return
        if stream:
            frames, pending = build_stream(body, usage, knobs.output_tokens, knobs.web_searches, tier,
                                           account.api_key)

            def failed(sent: int) -> bytes:
                response = {**pending, "status": "failed", "error": OPENAI_STREAM_ERROR}
                return sse("response.failed", {"type": "response.failed", "response": response,
                                               "sequence_number": sent})

            await self.play(frames, knobs, fault, failed)
            return
        plan = _Plan(body, usage, knobs.output_tokens, knobs.web_searches, account.api_key)
        pending = _response(body, new_id("resp_"), int(time.time()), "in_progress", [], None, tier)
        response = _finished(pending, plan, plan.final_output(), usage)
        delay = knobs.ttft + knobs.interval * max(0, plan.delta_count() - 1)
        await self.finish_body(orjson.dumps(response), fault, delay)

    async def _compact(self, account: EmulatorAccount, body: dict, knobs: Knobs, stream: bool,
                       fault: str | None, usage: dict) -> None:
        """Remote compaction: exactly one ``compaction`` output item (see ``compaction.py``)."""
        usage = {**usage, "output_tokens_details": {"reasoning_tokens": 0}}
        pending = _response(body, new_id("resp_"), int(time.time()), "in_progress", [], None,
                            knobs.service_tier or "default")
        item = compaction_item(account.api_key)
        if stream:
            def failed(sent: int) -> bytes:
                response = {**pending, "status": "failed", "error": OPENAI_STREAM_ERROR}
                return sse("response.failed", {"type": "response.failed", "response": response,
                                               "sequence_number": sent})

            await self.play(compaction_stream(pending, item, usage), knobs, fault, failed)
            return
        done = {**pending, "status": "completed", "output": [item], "usage": usage,
                "completed_at": int(time.time())}
        await self.finish_body(orjson.dumps(done), fault, knobs.ttft)


default_handlers = [
    (r"/v1/responses", ResponsesHandler),
    (r"/responses", ResponsesHandler),
]
