"""Builds the dependencies object of one process: loads stored secrets and creates the
long-lived services in order, each from the narrow dependencies it uses (constructor
arguments), so nothing is patched onto a service after it is built. Services that must stop
register a shutdown hook here."""

from __future__ import annotations

import os
import socket
from typing import Any, Callable

from server.accounts.keys import KeyService
from server.accounts.passwords import PasswordHasher
from server.accounts.recharge import RechargeService, RedeemService
from server.accounts.sessions import SessionService, load_jwt_secret
from server.accounts.stats import StatsService
from server.accounts.throttle import LoginThrottle, ThrottlePolicy
from server.accounts.users import UserService
from server.admin.audit import AuditLog
from server.admin.billing import BillingAdmin
from server.admin.groups import GroupAdmin
from server.admin.overview import Overview
from server.admin.prices import PriceAdmin
from server.admin.rules import ErrorRulesAdmin
from server.admin.services import AdminServices
from server.admin.upstreams import UpstreamAdmin
from server.admin.users import UserAdmin
from server.billing.charges import ChargeService
from server.billing.holds import HoldService
from server.clock import Clock
from server.deps import Deps
from server.ids import new_id
from server.inflight import InFlight
from server.jobs.leases import LeaseStore
from server.jobs.scheduler import Scheduler
from server.jobs.tasks import MaintenanceJobs, register
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
from server.settings import Settings
from server.storage.context_marks import ContextMarkStore
from server.storage.db import Storage
from server.storage.error_rules import ErrorRulesStore
from server.storage.groups import GroupStore
from server.storage.holds import HoldStore
from server.storage.keys import KeyStore
from server.storage.ledger import LedgerStore
from server.storage.login_attempts import LoginAttemptStore
from server.storage.prices import PriceStore
from server.storage.recharge import RechargeOrderStore, RedeemCodeStore
from server.storage.rollups import RollupStore
from server.storage.runtime_settings import RuntimeSettingsStore, SecretStore
from server.storage.upstreams import UpstreamStore
from server.storage.usage_queries import UsageQueries
from server.storage.users import UserStore
from server.upstream.client import UpstreamClient


async def build_deps(settings: Settings, storage: Storage) -> Deps:
    """Create the services of one relay process (after any fork), in dependency order.

    The scheduler is built but not started: the process starts it once it serves
    (``Runtime``), so tests and one-off tools that build deps run no background jobs."""
    clock, inflight = Clock(), InFlight()
    hooks: list[Callable[[], Any]] = []  # shutdown runs these in reverse
    await reseal_secrets(storage)
    # Billing stores, then the user side (users, sessions, keys, groups, recharges, stats).
    ledger, prices = LedgerStore(storage, clock), PriceStore(storage)
    await prices.prepare()
    groups = GroupStore(storage)
    await groups.seed_defaults()
    runtime_settings, user_store = RuntimeSettingsStore(storage), UserStore(storage)
    key_store = KeyStore(storage)
    sessions = SessionService(await load_jwt_secret(settings, storage), settings.session_ttl,
                              user_store, clock)
    users = UserService(user_store, PasswordHasher(settings.bcrypt_rounds), sessions,
                        LoginThrottle(LoginAttemptStore(storage), clock,
                                      account=ThrottlePolicy(settings.login_account_attempts),
                                      ip=ThrottlePolicy(settings.login_ip_attempts)),
                        runtime_settings)
    keys = KeyService(key_store, user_store, groups, runtime_settings, clock)
    redeem = RedeemService(RedeemCodeStore(storage), ledger, clock)
    recharge = RechargeService(RechargeOrderStore(storage), ledger, runtime_settings, redeem,
                               on_credit=lambda user_id: keys.invalidate(user_id=user_id))
    stats = StatsService(UsageQueries(storage), key_store, ledger, user_store, prices, groups, clock,
                         settings.currency)
    # The relay core.
    upstreams = UpstreamStore(storage, clock)

    def observe_attempt(account: str, ok: bool, error_class: str | None, action: str) -> None:
        metrics.observe_attempt(account, ok, error_class, action)  # attempts start after build_deps

    pools = PoolManager(storage, upstreams, observer=observe_attempt, clock=clock)
    sticky = StickyStore(storage, settings.sticky_ttl, clock=clock)
    upstream_client = UpstreamClient(settings)
    upstream_client.ssl_context()  # read the CA files now, not on the event loop's first call
    limits = KeyLimits(storage, clock=clock)
    context = ContextKeeper(pools, ContextMarkStore(storage), settings.encrypted_context_ttl,
                            settings.encrypted_context_max_wait, settings.max_attempts, clock)
    proxy = Proxy(settings, pools, sticky, upstream_client, context, clock)
    fairshare = FairShare(settings, pools)
    def forget_refused(key_id: str, user_id: str) -> None:
        keys.invalidate(key_id=key_id)
        keys.invalidate(user_id=user_id)

    holds = HoldService(HoldStore(storage), settings, clock, on_refused=forget_refused)
    def exhausted(user_id: str) -> None:
        """A flush took the balance to zero or below: the key cache and this process's budget
        lease re-read it at the next call (server.billing.leases)."""
        keys.invalidate(user_id=user_id)
        holds.expire(user_id)

    charges = ChargeService(storage, ledger, on_exhausted=exhausted, settle=holds.settle)
    recorder = UsageRecorder(charges, settings.usage_flush_interval, db_timeout=settings.db_timeout_flush)
    recorder.start()
    hooks.append(holds.give_back)  # budget leases go back after the final flush (hooks run in reverse)
    hooks.append(upstream_client.close)
    hooks.append(recorder.stop)  # flush usage first, then close the upstream client
    metrics = Metrics(inflight=lambda: inflight.count, pools=lambda: pools,
                      usage_pending=lambda: recorder.pending)
    admission = Admission(settings, keys, groups, prices, runtime_settings, recorder, limits)
    relay = RelayService(admission, limits, fairshare, holds, proxy, recorder, metrics)
    # Background jobs, then the operator services (the overview shows the jobs).
    owner = f"{socket.gethostname()}:{os.getpid()}:{new_id('proc')}"
    scheduler = Scheduler(LeaseStore(storage, owner, clock.now), settings.db_timeout_jobs, clock)
    jobs = MaintenanceJobs(storage, settings, clock, pools=pools, upstream_client=upstream_client,
                           ledger=ledger, redeem=redeem, holds=holds, runtime_settings=runtime_settings,
                           sticky=sticky, context=context, limits=limits)
    register(scheduler, jobs, settings.health_probe_interval)
    hooks.append(scheduler.stop)
    audit, rollups = AuditLog(storage), RollupStore(storage)
    admin = AdminServices(
        audit=audit,
        upstreams=UpstreamAdmin(audit, upstreams, groups, pools, sticky, upstream_client, rollups),
        groups=GroupAdmin(audit, groups, upstreams),
        rules=ErrorRulesAdmin(audit, ErrorRulesStore(storage), pools),
        users=UserAdmin(audit, user_store, keys, ledger, UsageQueries(storage), settings.overdraft),
        billing=BillingAdmin(audit, recharge, redeem),
        prices=PriceAdmin(audit, prices, pools),
        overview=Overview(audit, rollups, pools, recharge, runtime_settings, user_store, scheduler, inflight))
    return Deps(settings=settings, storage=storage, clock=clock, inflight=inflight, shutdown_hooks=hooks,
                ledger=ledger, prices=prices, charges=charges, groups=groups,
                runtime_settings=runtime_settings, user_store=user_store, sessions=sessions, users=users,
                keys=keys, redeem=redeem, recharge=recharge, stats=stats, upstreams=upstreams, pools=pools,
                sticky=sticky, upstream_client=upstream_client, limits=limits, fairshare=fairshare,
                holds=holds, proxy=proxy, context=context, recorder=recorder, admission=admission,
                relay=relay, metrics=metrics, admin=admin, scheduler=scheduler)


async def reseal_secrets(storage: Storage) -> int:
    """Start-up migration: seal any secret still stored in clear (or under an older key)."""
    return await SecretStore(storage).reseal() + await UpstreamStore(storage).reseal_keys()
