"""The dependencies object: everything long-lived that handlers and jobs need, built once
per process after start-up and handed to the app through ``Application.settings["deps"]``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from server.clock import Clock
from server.settings import Settings
from server.storage.db import Storage

if TYPE_CHECKING:
    from server.accounts.keys import KeyService
    from server.accounts.recharge import RechargeService, RedeemService
    from server.accounts.sessions import SessionService
    from server.accounts.stats import StatsService
    from server.accounts.users import UserService
    from server.admin.services import AdminServices
    from server.billing.charges import ChargeService
    from server.billing.holds import HoldService
    from server.jobs.scheduler import Scheduler
    from server.metrics import Metrics
    from server.pools.manager import PoolManager
    from server.pools.sticky import StickyStore
    from server.relay.encrypted import ContextKeeper
    from server.relay.fairshare import FairShare
    from server.relay.limits import KeyLimits
    from server.relay.proxy import Proxy
    from server.relay.recorder import UsageRecorder
    from server.relay.service import RelayService
    from server.storage.groups import GroupStore
    from server.storage.ledger import LedgerStore
    from server.storage.prices import PriceStore
    from server.storage.runtime_settings import RuntimeSettingsStore
    from server.storage.upstreams import UpstreamStore
    from server.storage.users import UserStore
    from server.upstream.client import UpstreamClient


@dataclass
class Deps:
    """Long-lived services of one relay process. No module-level state anywhere else."""

    settings: Settings
    storage: Storage
    clock: Clock = field(default_factory=Clock)
    inflight: int = 0
    shutdown_hooks: list[Callable[[], Any]] = field(default_factory=list)
    # Billing
    ledger: "LedgerStore | None" = None
    prices: "PriceStore | None" = None
    charges: "ChargeService | None" = None
    # Accounts (dashboard user side)
    groups: "GroupStore | None" = None
    runtime_settings: "RuntimeSettingsStore | None" = None
    user_store: "UserStore | None" = None
    sessions: "SessionService | None" = None
    users: "UserService | None" = None
    keys: "KeyService | None" = None
    redeem: "RedeemService | None" = None
    recharge: "RechargeService | None" = None
    stats: "StatsService | None" = None
    # Relay core
    upstreams: "UpstreamStore | None" = None
    pools: "PoolManager | None" = None
    sticky: "StickyStore | None" = None
    upstream_client: "UpstreamClient | None" = None
    limits: "KeyLimits | None" = None
    fairshare: "FairShare | None" = None
    holds: "HoldService | None" = None
    proxy: "Proxy | None" = None
    context: "ContextKeeper | None" = None  # encrypted context / thinking signature handling
    recorder: "UsageRecorder | None" = None
    relay: "RelayService | None" = None  # the relay request's one service (server.relay.service)
    # Operator API, background jobs and metrics
    metrics: "Metrics | None" = None
    admin: "AdminServices | None" = None
    scheduler: "Scheduler | None" = None
