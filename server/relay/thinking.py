"""Anthropic thinking signatures: repair a conversation the upstream refuses with
``messages.N.content.M: Invalid `signature` in `thinking` block``.

The relay forwards thinking blocks byte for byte (the body is never re-serialised on the way
out unless a repair or a model mapping needs it). Peers' users hit the error after switching
accounts or providers and on resumed sessions. On it, the relay retries once on the same account
without the thinking blocks of earlier turns: the API accepts a conversation without them,
except for the last assistant turn when it ends in tool use (the tool loop in progress needs its
thinking block). If the block the upstream names *is* that one, no repair can help: the client
gets a clear error instead. Each repair is logged on the usage row; the account is not cooled.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from server.relay.guard import ContextLost, Guard

if TYPE_CHECKING:
    from server.pools.state import AccountState

REJECTED = "invalid_thinking_signature"
THINKING_TYPES = frozenset({"thinking", "redacted_thinking"})
_WHERE = re.compile(r"messages\.(\d+)\.content\.(\d+)")


def _needed_turn(messages: list[Any]) -> int | None:
    """Index of the last assistant message if it ends in tool use (its thinking must stay)."""
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if isinstance(message, dict) and message.get("role") == "assistant":
            content = message.get("content")
            if isinstance(content, list) and content and isinstance(content[-1], dict) \
                    and content[-1].get("type") == "tool_use":
                return i
            return None
    return None


class ThinkingGuard(Guard):
    """One Messages request: the signature repair."""

    repaired = False

    def rejected(self, status: int, error_type: str, message: str) -> str | None:
        if status == 400 and "signature" in message and "thinking" in message:
            return REJECTED
        return None

    async def after_failure(self, kind: str, message: str, account: "AccountState") -> bool:
        if kind != REJECTED:
            return False
        messages = self.ctx.body.get("messages")
        messages = messages if isinstance(messages, list) else []
        keep = _needed_turn(messages)
        where = _WHERE.search(message)
        named = int(where.group(1)) if where else None
        if self.repaired or (named is not None and named == keep) or self.ctx.attempts >= self.max_attempts:
            raise ContextLost(
                "本会话最后一轮(工具调用中)的 thinking 块签名无效(可能来自其他账号/服务商,或被修改过),"
                "上游拒绝了它,无法自动修复。请重新发送上一条消息开始新一轮,或开始新会话。")
        stripped = 0
        out = []
        for i, turn in enumerate(messages):
            if i == keep or not isinstance(turn, dict) or turn.get("role") != "assistant" \
                    or not isinstance(turn.get("content"), list):
                out.append(turn)
                continue
            content = turn["content"]
            kept = [b for b in content if not (isinstance(b, dict) and b.get("type") in THINKING_TYPES)]
            stripped += len(content) - len(kept)
            out.append({**turn, "content": kept or [{"type": "text", "text": "(thinking omitted)"}]})
        if not stripped:
            raise ContextLost("上游拒绝了本会话中的 thinking 块签名,"
                              "且没有可移除的早期 thinking 块。请开始新会话。")
        self.repaired = True
        self.rewrite("messages", out, f"thinking_signature: {account.name} refused a signature; retried once "
                                      f"without {stripped} thinking block(s) of earlier turns")
        self.next_account = account.id
        return True
