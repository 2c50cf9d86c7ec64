"""``/api/admin/overview``, ``/api/admin/settings``, ``/api/admin/audit`` and the usage records
set aside (``/api/admin/usage/set-aside``, ``…/redrive``)."""

from __future__ import annotations

from admin_api.admin_auth import AdminHandler, admin_required
from server.billing.set_aside import SetAsideService


class OverviewHandler(AdminHandler):
    @admin_required
    async def get(self) -> None:
        self.write_json(await self.deps.admin.overview.overview())


class SettingsHandler(AdminHandler):
    @admin_required
    async def get(self) -> None:
        self.write_json(await self.deps.admin.overview.settings())

    @admin_required
    async def patch(self) -> None:
        self.write_json(await self.deps.admin.overview.update_settings(self.admin_id, self.get_json_body()))


class AuditHandler(AdminHandler):
    @admin_required
    async def get(self) -> None:
        limit, offset = self.page_args()
        rows, total = await self.deps.admin.audit.list(limit, offset,
                                                       self.get_query_argument("action", None) or None)
        self.write_json({"data": rows, "total": total, "limit": limit, "offset": offset})


class SetAsideHandler(AdminHandler):
    """Usage records the database refused, kept in this machine's data directory."""

    def service(self) -> SetAsideService:
        return SetAsideService(self.deps.recorder.journal, self.deps.charges)

    @admin_required
    async def get(self) -> None:
        self.write_json(await self.service().list())


class SetAsideRedriveHandler(SetAsideHandler):
    @admin_required
    async def post(self) -> None:
        result = await self.service().redrive()
        await self.deps.admin.audit.record(self.admin_id, "usage.redrive", "set-aside", after=result)
        self.write_json(result)


default_handlers = [
    (r"/api/admin/overview", OverviewHandler),
    (r"/api/admin/settings", SettingsHandler),
    (r"/api/admin/audit", AuditHandler),
    (r"/api/admin/usage/set-aside", SetAsideHandler),
    (r"/api/admin/usage/set-aside/redrive", SetAsideRedriveHandler),
]
