"""The operator services of one process, built once in ``server.wiring`` and reached by the
handlers as ``deps.admin.<service>``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.admin.audit import AuditLog
from server.admin.billing import BillingAdmin
from server.admin.groups import GroupAdmin
from server.admin.overview import Overview
from server.admin.prices import PriceAdmin
from server.admin.rules import ErrorRulesAdmin
from server.admin.upstreams import UpstreamAdmin
from server.admin.users import UserAdmin

if TYPE_CHECKING:
    from server.deps import Deps


@dataclass
class AdminServices:
    """Every operator service, sharing one audit log."""

    audit: AuditLog
    upstreams: UpstreamAdmin
    groups: GroupAdmin
    rules: ErrorRulesAdmin
    users: UserAdmin
    billing: BillingAdmin
    prices: PriceAdmin
    overview: Overview

    @classmethod
    def build(cls, deps: "Deps") -> "AdminServices":
        audit = AuditLog(deps.storage)
        return cls(audit=audit, upstreams=UpstreamAdmin(deps, audit), groups=GroupAdmin(deps, audit),
                   rules=ErrorRulesAdmin(deps, audit), users=UserAdmin(deps, audit),
                   billing=BillingAdmin(deps, audit), prices=PriceAdmin(deps, audit),
                   overview=Overview(deps, audit))
