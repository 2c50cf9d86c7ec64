"""Builds the dependencies object of one process: loads stored secrets and creates the
long-lived services. Each later service registers its own shutdown hook here."""

from __future__ import annotations

import os
import socket

from server.accounts.keys import KeyService
from server.accounts.passwords import PasswordHasher
from server.accounts.recharge import RechargeService, RedeemService
from server.accounts.sessions import SessionService, load_jwt_secret
from server.accounts.stats import StatsService
from server.accounts.throttle import LoginThrottle, ThrottlePolicy
from server.accounts.users import UserService
from server.admin.services import AdminServices
from server.billing.charges import ChargeService
from server.billing.holds import HoldService
from server.deps import Deps
from server.ids import new_id
from server.jobs.leases import LeaseStore
from server.jobs.scheduler import Scheduler
from server.jobs.tasks import MaintenanceJobs, register
from server.metrics import Metrics
from server.pools.manager import PoolManager
from server.pools.sticky import StickyStore
from server.relay.encrypted import ContextKeeper
from server.relay.fairshare import FairShare
from server.relay.limits import KeyLimits
from server.relay.proxy import Proxy
from server.relay.recorder import UsageRecorder
from server.relay.service import RelayService
from server.settings import Settings
from server.storage.context_marks import ContextMarkStore
from server.storage.db import Storage
from server.storage.groups import GroupStore
from server.storage.holds import HoldStore
from server.storage.keys import KeyStore
from server.storage.ledger import LedgerStore
from server.storage.login_attempts import LoginAttemptStore
from server.storage.prices import PriceStore
from server.storage.recharge import RechargeOrderStore, RedeemCodeStore
from server.storage.runtime_settings import RuntimeSettingsStore, SecretStore
from server.storage.upstreams import UpstreamStore
from server.storage.usage_queries import UsageQueries
from server.storage.users import UserStore
from server.upstream.client import UpstreamClient


async def build_deps(settings: Settings, storage: Storage) -> Deps:
    """Create the services of one relay process (after any fork)."""
    deps = Deps(settings=settings, storage=storage)
    await reseal_secrets(storage)
    _billing(deps)
    await _accounts(deps)
    _relay(deps)
    _operations(deps)
    _relay_service(deps)
    return deps


async def reseal_secrets(storage: Storage) -> int:
    """Start-up migration: seal any secret still stored in clear (or under an older key)."""
    return await SecretStore(storage).reseal() + await UpstreamStore(storage).reseal_keys()


def _billing(deps: Deps) -> None:
    deps.ledger = LedgerStore(deps.storage)
    deps.prices = PriceStore(deps.storage)
    deps.charges = ChargeService(deps.storage, deps.ledger)


async def _accounts(deps: Deps) -> None:
    """Users, sessions, keys, groups, recharges and stats; seeds groups and prices."""
    settings, storage, clock = deps.settings, deps.storage, deps.clock
    assert deps.ledger is not None and deps.prices is not None
    await deps.prices.prepare()
    deps.groups = GroupStore(storage)
    await deps.groups.seed_defaults()
    deps.runtime_settings = RuntimeSettingsStore(storage)
    deps.user_store = UserStore(storage)
    key_store = KeyStore(storage)
    deps.sessions = SessionService(await load_jwt_secret(settings, storage), settings.session_ttl,
                                   deps.user_store, clock)
    deps.users = UserService(deps.user_store, PasswordHasher(settings.bcrypt_rounds), deps.sessions,
                             LoginThrottle(LoginAttemptStore(storage), clock,
                                           account=ThrottlePolicy(settings.login_account_attempts),
                                           ip=ThrottlePolicy(settings.login_ip_attempts)),
                             deps.runtime_settings)
    deps.keys = KeyService(key_store, deps.user_store, deps.groups, deps.runtime_settings, clock)
    deps.charges.on_exhausted = lambda user_id: deps.keys.invalidate(user_id=user_id)
    deps.redeem = RedeemService(RedeemCodeStore(storage), deps.ledger, clock)
    keys = deps.keys
    deps.recharge = RechargeService(RechargeOrderStore(storage), deps.ledger, deps.runtime_settings,
                                    deps.redeem, on_credit=lambda user_id: keys.invalidate(user_id=user_id))
    deps.stats = StatsService(UsageQueries(storage), key_store, deps.ledger, deps.user_store,
                              deps.prices, deps.groups, clock, settings.currency)


def _relay(deps: Deps) -> None:
    settings = deps.settings
    deps.upstreams = UpstreamStore(deps.storage)
    deps.pools = PoolManager(deps.storage, deps.upstreams)
    deps.sticky = StickyStore(deps.storage, settings.sticky_ttl, clock=deps.clock)
    deps.upstream_client = UpstreamClient(settings)
    deps.limits = KeyLimits(deps.storage, clock=deps.clock)
    deps.context = ContextKeeper(deps.pools, ContextMarkStore(deps.storage), settings.encrypted_context_ttl,
                                 settings.encrypted_context_max_wait, settings.max_attempts, deps.clock)
    deps.proxy = Proxy(settings, deps.pools, deps.sticky, deps.upstream_client, deps.context, deps.clock)
    deps.fairshare = FairShare(settings, deps.pools)
    deps.holds = HoldService(HoldStore(deps.storage), settings, deps.clock)
    deps.holds.on_refused = lambda key_id, user_id: (deps.keys.invalidate(key_id=key_id),
                                                     deps.keys.invalidate(user_id=user_id))
    deps.charges.settle = deps.holds.settle
    deps.recorder = UsageRecorder(deps.charges, settings.usage_flush_interval,
                                  db_timeout=settings.db_timeout_flush)
    deps.recorder.start()
    # Shutdown runs these in reverse: flush usage first, then close the upstream client.
    deps.shutdown_hooks.append(deps.upstream_client.close)
    deps.shutdown_hooks.append(deps.recorder.stop)


def _relay_service(deps: Deps) -> None:
    """The relay request's one service (handler → ``RelayService`` → usage recorder)."""
    assert deps.limits and deps.fairshare and deps.holds and deps.proxy and deps.recorder
    deps.relay = RelayService(deps, deps.limits, deps.fairshare, deps.holds, deps.proxy, deps.recorder,
                              deps.metrics)


def _operations(deps: Deps) -> None:
    """Metrics hooks, the operator services and the (not yet started) job scheduler. The
    process starts the scheduler once it serves (``Runtime``), so tests and one-off tools
    that build deps run no background jobs; stopping it is a shutdown hook."""
    deps.metrics = Metrics(inflight=lambda: deps.inflight, pools=lambda: deps.pools,
                           usage_pending=lambda: deps.recorder.pending if deps.recorder else 0)
    assert deps.pools is not None
    deps.pools.observer = deps.metrics.observe_attempt
    deps.admin = AdminServices.build(deps)
    owner = f"{socket.gethostname()}:{os.getpid()}:{new_id('proc')}"
    deps.scheduler = Scheduler(LeaseStore(deps.storage, owner), db_timeout=deps.settings.db_timeout_jobs)
    register(deps.scheduler, MaintenanceJobs(deps), deps.settings.health_probe_interval)
    deps.shutdown_hooks.append(deps.scheduler.stop)
