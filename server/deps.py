"""The dependencies object: everything long-lived that the HTTP handlers reach, built once per
process after start-up and handed to the app through ``Application.settings["deps"]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from server.clock import Clock
from server.inflight import InFlight
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
    from server.relay.admission import Admission
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


@dataclass(frozen=True)
class Deps:
    """Long-lived services of one relay process, built in order by ``server.wiring`` and never
    reassigned. Handlers reach their service here; services themselves get only what they use
    (constructor arguments), never this object."""

    settings: Settings
    storage: Storage
    clock: Clock
    inflight: InFlight
    shutdown_hooks: list[Callable[[], Any]]  # run in reverse at shutdown (server.runtime)
    # Billing
    ledger: "LedgerStore"
    prices: "PriceStore"
    charges: "ChargeService"
    # Accounts (dashboard user side)
    groups: "GroupStore"
    runtime_settings: "RuntimeSettingsStore"
    user_store: "UserStore"
    sessions: "SessionService"
    users: "UserService"
    keys: "KeyService"
    redeem: "RedeemService"
    recharge: "RechargeService"
    stats: "StatsService"
    # Relay core
    upstreams: "UpstreamStore"
    pools: "PoolManager"
    sticky: "StickyStore"
    upstream_client: "UpstreamClient"
    limits: "KeyLimits"
    fairshare: "FairShare"
    holds: "HoldService"
    proxy: "Proxy"
    context: "ContextKeeper"  # encrypted context / thinking signature handling
    recorder: "UsageRecorder"
    admission: "Admission"  # what the relay checks before any upstream call
    relay: "RelayService"  # the relay request's one service (server.relay.service)
    # Operator API, background jobs and metrics
    metrics: "Metrics"
    admin: "AdminServices"
    scheduler: "Scheduler"
