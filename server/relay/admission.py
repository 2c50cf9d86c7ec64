"""Everything checked before any upstream call: key, user, group and protocol, model, price,
balance, quota, rate and concurrency. Each refusal is a domain error carrying the seed's
message and type; the handler renders it in the protocol's own envelope."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from server.errors import BadRequest, Forbidden, InsufficientBalance, Unauthorized, UpstreamUnavailable
from server.ids import new_id
from server.jsonbody import parse_json_object
from server.pools.sticky import session_key
from server.relay.context import RelayContext
from server.storage.holds import user_overdraft

if TYPE_CHECKING:
    from server.accounts.keys import KeyService
    from server.relay.limits import KeyLimits
    from server.relay.recorder import UsageRecorder
    from server.settings import Settings
    from server.storage.groups import GroupStore
    from server.storage.prices import PriceStore
    from server.storage.runtime_settings import RuntimeSettingsStore

PROTOCOL_GROUP_HINT = {
    "anthropic": "请使用 Claude 分组(claude)的 API Key 调用 /v1/messages",
    "openai": "Codex / Responses API 需要使用 Codex 分组(codex)的 API Key,请在控制台创建 Codex 分组的密钥",
}


@dataclass(frozen=True)
class Admission:
    """What admission reads: keys, groups, prices, the operator's defaults, the usage backlog
    and the rate counters (built by ``server.wiring``)."""

    settings: "Settings"
    keys: "KeyService"
    groups: "GroupStore"
    prices: "PriceStore"
    runtime_settings: "RuntimeSettingsStore"
    recorder: "UsageRecorder"
    limits: "KeyLimits"


def api_key_from(headers: Mapping[str, str]) -> str:
    """The client's key: ``x-api-key`` or ``Authorization: Bearer``."""
    key = headers.get("x-api-key", "").strip()
    if key:
        return key
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return ""


async def authenticate(deps: Admission, headers: Mapping[str, str], protocol: str) -> tuple[dict, dict, dict]:
    """(key, user, group) for a relay call, or the seed's refusal."""
    secret = api_key_from(headers)
    if not secret:
        raise Unauthorized("无效的 API Key")
    key, user = await deps.keys.resolve(secret)  # disabled, expired, unknown: refused there
    group = await deps.groups.get(key.get("group") or "claude")
    if group is None:
        raise Forbidden(f"API Key 的分组 {key.get('group')} 不存在,请联系管理员")
    if group.get("protocol") != protocol:
        raise BadRequest(f"该 API Key 属于分组 {group['_id']}({group.get('protocol')} 协议),"
                         f"不能调用此接口。{PROTOCOL_GROUP_HINT[protocol]}",
                         type="invalid_request_error")
    return key, user, group


# Seconds a call waits for the usage backlog to drain before it is refused.
BACKLOG_WAIT = 10.0

MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")


def _check_shape(protocol: str, body: dict) -> None:
    """The few fields the relay itself reads must have their protocol's shape (400, not 500)."""
    if protocol == "anthropic":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("messages 必须是非空数组", field="messages")
    elif not isinstance(body.get("input", ""), (str, list)):
        raise BadRequest("input 必须是字符串或数组", field="input")


async def admit(deps: Admission, *, protocol: str, path: str, endpoint: str, headers: Mapping[str, str],
                raw: bytes, client_ip: str, billable: bool = True) -> RelayContext:
    """Authenticate, validate and price a relay request; raise before any upstream call."""
    if billable and deps.recorder.backlogged and not await deps.recorder.wait_for_room(BACKLOG_WAIT):
        # Usage is not being written as fast as it is made (a database far behind): answering
        # more would only grow the unwritten backlog. Clients retry on 503 + retry-after.
        raise UpstreamUnavailable("服务繁忙(用量记录积压),请稍后重试", headers={"retry-after": "2"})
    key, user, group = await authenticate(deps, headers, protocol)
    body = parse_json_object(raw, deps.settings.max_body_bytes)
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("缺少 model 参数", field="model")
    if not MODEL_NAME.fullmatch(model):
        raise BadRequest("model 参数不是有效的模型名称", field="model")
    _check_shape(protocol, body)
    allowed = key.get("models") or []
    if allowed and not any(fnmatch.fnmatchcase(model, pattern) for pattern in allowed):
        raise Forbidden(f"该 API Key 不允许使用模型 {model}")
    rule = await deps.prices.find(model)
    if rule is None and billable:
        raise BadRequest(f"模型 {model} 暂不支持(未配置价格)", type="not_found_error", field="model")
    if billable:
        if user.get("balance", 0) + user_overdraft(user, deps.settings.overdraft) <= 0:
            raise InsufficientBalance()  # a cheap first look; the hold decides (server.billing.holds)
        quota = key.get("spend_quota") or 0
        if quota and (key.get("totals") or {}).get("cost", 0) >= quota:
            raise InsufficientBalance("API Key 已达到消费额度上限", type="quota_exceeded")
    request_id = new_id("req")
    # A key without a limit of its own (0) gets the operator's default: it cannot lift it.
    rate = int(key.get("rate_limit") or 0) or (await deps.runtime_settings.get()).default_rate_limit
    await deps.limits.check_rate(key["_id"], rate)
    stream = bool(body.get("stream")) and billable
    return RelayContext(
        request_id=request_id, protocol=protocol, path=path, endpoint=endpoint, key=key, user=user,
        group=group, model=model, body=body, body_bytes=raw, stream=stream, headers=dict(headers),
        rule=rule, multiplier_ppm=int(group.get("multiplier_ppm", 1_000_000)),
        session=session_key(protocol, headers, body, key["_id"]), client_ip=client_ip,
        user_agent=headers.get("user-agent", ""), billable=billable)
