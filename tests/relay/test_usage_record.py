"""The usage record is built from the request context in one place (``RelayContext.usage_record``):
every field the context knows reaches the record that is charged and logged."""

from __future__ import annotations

import dataclasses

from server.billing.charges import UsageRecord
from server.pricing.pricing import PriceRule
from server.pricing.usage import Usage
from server.relay.context import RelayContext

# Record fields the context does not carry: set when the record is written, or derived.
NOT_FROM_CONTEXT = {"ts", "_cost", "_base_cost", "batch"}  # caches (a journal replay sets them); batch: the flush entry


def _context(**overrides) -> RelayContext:
    ctx = RelayContext(
        request_id="req_1", protocol="openai", path="/v1/responses", endpoint="/responses",
        key={"_id": "key_1", "name": "laptop"}, user={"_id": "usr_1"}, group={"_id": "codex"},
        model="gpt-5.4", body={}, body_bytes=b"{}", stream=True, headers={},
        rule=PriceRule.build("gpt-5.4", 2_500_000, 15_000_000), multiplier_ppm=1_500_000,
        session="sess", client_ip="127.0.0.9", user_agent="codex/0.169", **overrides)
    ctx.attempts, ctx.account_id, ctx.account_name = 2, "acc_1", "o1"
    ctx.upstream_model, ctx.upstream_request_id = "gpt-5.4-2026", "resp_1"
    ctx.status, ctx.outcome, ctx.error_class, ctx.ttft_ms = 502, "upstream_error", "connect", 40
    ctx.usage = Usage(input=10, output=20)
    ctx.repairs.append("encrypted_context: dropped 1")
    ctx.hold = 1234
    return ctx


def test_every_field_of_the_context_reaches_the_record() -> None:
    ctx = _context()
    record = ctx.usage_record()
    expected = {
        "request_id": "req_1", "user_id": "usr_1", "key_id": "key_1", "key_name": "laptop", "group": "codex",
        "model": "gpt-5.4", "usage": Usage(input=10, output=20), "rule": ctx.rule,
        "multiplier_ppm": 1_500_000,
        "protocol": "openai", "endpoint": "/responses", "stream": True, "status": 502,
        "outcome": "upstream_error", "error_class": "connect", "attempts": 2, "ttft_ms": 40,
        "account_id": "acc_1", "account_name": "o1", "upstream_model": "gpt-5.4-2026",
        "upstream_request_id": "resp_1", "client_ip": "127.0.0.9", "user_agent": "codex/0.169",
        "session_hash": "sess", "repairs": ["encrypted_context: dropped 1"], "hold": 1234,
    }
    fields = {f.name for f in dataclasses.fields(UsageRecord)} - NOT_FROM_CONTEXT - {"latency_ms"}
    assert fields == set(expected), "a new UsageRecord field must be filled in RelayContext.usage_record"
    assert {name: getattr(record, name) for name in fields} == expected
    assert record.latency_ms >= 0
    ctx.repairs.append("later")
    assert record.repairs == ["encrypted_context: dropped 1"]  # a copy: the record does not change after


def test_an_unpriced_free_call_records_no_usage_and_status_200_by_default() -> None:
    ctx = _context(billable=False)
    ctx.rule, ctx.status = None, 0
    record = ctx.usage_record()
    assert record.usage == Usage() and record.status == 200
