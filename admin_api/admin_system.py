"""``/api/admin/overview``, ``/api/admin/settings`` and ``/api/admin/audit``."""

from __future__ import annotations

from admin_api.admin_auth import AdminHandler, admin_required


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


default_handlers = [
    (r"/api/admin/overview", OverviewHandler),
    (r"/api/admin/settings", SettingsHandler),
    (r"/api/admin/audit", AuditHandler),
]
