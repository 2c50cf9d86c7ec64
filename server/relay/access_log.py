"""One access line per relay request (logger ``jiuliu.access``), written when its usage is final:
who (key prefix, group), what (model, account), how it went (status, outcome, attempts, latency,
time to first token) and the tokens. Its fields ride on the record (``extra["fields"]``), so the
JSON format gives a log shipper keys, the text format ``key=value`` pairs (server/logs.py)."""

from __future__ import annotations

import logging
from typing import Any

from server.relay.context import RelayContext

log = logging.getLogger("jiuliu.access")


def access_fields(ctx: RelayContext, status: int) -> dict[str, Any]:
    usage = ctx.usage
    return {
        "request_id": ctx.request_id, "key": ctx.key.get("prefix", ""), "group": ctx.group.get("_id"),
        "model": ctx.model, "account": ctx.account_name or ctx.account_id, "endpoint": ctx.endpoint,
        "stream": ctx.stream, "status": status, "outcome": ctx.outcome, "attempts": ctx.attempts,
        "latency_ms": ctx.elapsed_ms(), "ttft_ms": ctx.ttft_ms,
        "input_tokens": usage.input, "output_tokens": usage.output, "cache_read_tokens": usage.cache_read,
        "cache_write_tokens": usage.cache_write_5m + usage.cache_write_1h,
        **({"estimated": usage.estimate} if usage.estimate else {}),
        **({"error": ctx.error_class} if ctx.error_class else {}),
    }


def log_access(ctx: RelayContext, status: int) -> None:
    """The access line of an admitted request."""
    fields = access_fields(ctx, status)
    log.info("%s %s %d", ctx.endpoint, ctx.model, status, extra={"fields": fields})


def log_refused(endpoint: str, status: int, latency_ms: int) -> None:
    """The access line of a request refused before admission (bad key, bad body, no balance)."""
    log.info("%s - %d", endpoint, status,
             extra={"fields": {"request_id": None, "endpoint": endpoint, "status": status,
                               "outcome": "refused", "latency_ms": latency_ms}})
