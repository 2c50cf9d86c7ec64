"""The operator services of one process, built once in ``server.wiring`` and reached by the
handlers as ``deps.admin.<service>``."""

from __future__ import annotations

from dataclasses import dataclass

from server.admin.audit import AuditLog
from server.admin.billing import BillingAdmin
from server.admin.groups import GroupAdmin
from server.admin.overview import Overview
from server.admin.prices import PriceAdmin
from server.admin.rules import ErrorRulesAdmin
from server.admin.upstreams import UpstreamAdmin
from server.admin.users import UserAdmin


@dataclass(frozen=True)
class AdminServices:
    """Every operator service, sharing one audit log (built by ``server.wiring``)."""

    audit: AuditLog
    upstreams: UpstreamAdmin
    groups: GroupAdmin
    rules: ErrorRulesAdmin
    users: UserAdmin
    billing: BillingAdmin
    prices: PriceAdmin
    overview: Overview
