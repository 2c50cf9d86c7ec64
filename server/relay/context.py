"""What the relay knows about one admitted request, and the sink it writes the answer to."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from server.billing.charges import UsageRecord
from server.pricing.pricing import PriceRule
from server.pricing.usage import Usage


class ClientSink(Protocol):
    """The client side of a relayed call (the Tornado handler implements it)."""

    def start(self, status: int, headers: dict[str, str]) -> None: ...

    async def send(self, data: bytes) -> bool:
        """Send bytes and flush; False once the client has gone."""
        ...

    def end(self, data: bytes = b"") -> None: ...

    def attach_upstream(self, response: Any) -> None:
        """The upstream response in flight: closed at once if the client goes away."""
        ...

    @property
    def client_gone(self) -> bool: ...


@dataclass
class RelayContext:
    """An admitted request: who, what, priced how, and how far it has got."""

    request_id: str
    protocol: str  # "anthropic" | "openai"
    path: str  # upstream path, e.g. "/v1/messages" (+ query)
    endpoint: str
    key: dict[str, Any]
    user: dict[str, Any]
    group: dict[str, Any]
    model: str
    body: dict[str, Any]
    body_bytes: bytes
    stream: bool
    headers: dict[str, str]
    rule: PriceRule | None = None
    multiplier_ppm: int = 1_000_000
    session: str | None = None
    client_ip: str = ""
    user_agent: str = ""
    billable: bool = True
    started: float = field(default_factory=time.monotonic)
    # Filled in while relaying:
    attempts: int = 0
    account_id: str | None = None
    account_name: str | None = None
    upstream_model: str | None = None
    upstream_request_id: str | None = None
    status: int = 0
    outcome: str = "ok"
    error_class: str | None = None
    ttft_ms: int | None = None
    usage: Usage = field(default_factory=Usage)
    # Opaque-context handling (server.relay.guard): repairs logged on the usage row, the guard
    # of this request, and its observer of upstream events (name, parsed data).
    repairs: list[str] = field(default_factory=list)
    guard: Any = None
    watch: Any = None
    hold: int = 0  # micro-units held against the balance at admission (server.billing.holds)

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def usage_record(self) -> UsageRecord:
        """The request's usage record (what is charged and logged): built here and only here."""
        assert self.rule is not None or not self.billable, "admission prices every billable call"
        return UsageRecord(
            request_id=self.request_id, user_id=self.user["_id"], key_id=self.key["_id"],
            key_name=self.key.get("name", ""), group=self.group["_id"], model=self.model,
            usage=self.usage if self.rule is not None else Usage(), rule=self.rule,  # type: ignore[arg-type]
            multiplier_ppm=self.multiplier_ppm, protocol=self.protocol, endpoint=self.endpoint,
            stream=self.stream, status=self.status or 200, outcome=self.outcome,
            error_class=self.error_class, attempts=self.attempts, latency_ms=self.elapsed_ms(),
            ttft_ms=self.ttft_ms, account_id=self.account_id, account_name=self.account_name,
            upstream_model=self.upstream_model, upstream_request_id=self.upstream_request_id,
            client_ip=self.client_ip, user_agent=self.user_agent, session_hash=self.session,
            repairs=list(self.repairs), hold=self.hold)
