"""``/api/admin/users``: search, detail, disable/enable, balance adjustments and overdraft."""

from __future__ import annotations

from admin_api.admin_auth import AdminHandler, admin_required, path_id


class UsersHandler(AdminHandler):
    @admin_required
    async def get(self) -> None:
        limit, offset = self.page_args()
        q = (self.get_query_argument("q", "") or "").strip()
        rows, total = await self.deps.admin.users.list(q, limit, offset)
        self.write_json({"data": rows, "total": total, "limit": limit, "offset": offset})


class UserHandler(AdminHandler):
    @admin_required
    async def get(self, user_id: str) -> None:
        self.write_json(await self.deps.admin.users.detail(path_id(user_id)))


class UserStatusHandler(AdminHandler):
    @admin_required
    async def post(self, user_id: str, action: str) -> None:
        status = "disabled" if action == "disable" else "active"
        self.write_json(await self.deps.admin.users.set_status(self.admin_id, path_id(user_id), status))


class UserAdjustHandler(AdminHandler):
    @admin_required
    async def post(self, user_id: str) -> None:
        self.write_json(await self.deps.admin.users.adjust(self.admin_id, path_id(user_id),
                                                            self.get_json_body()))


class UserOverdraftHandler(AdminHandler):
    @admin_required
    async def post(self, user_id: str) -> None:
        self.write_json(await self.deps.admin.users.set_overdraft(self.admin_id, path_id(user_id),
                                                                  self.get_json_body()))


default_handlers = [
    (r"/api/admin/users", UsersHandler),
    (r"/api/admin/users/([^/]+)", UserHandler),
    (r"/api/admin/users/([^/]+)/(disable|enable)", UserStatusHandler),
    (r"/api/admin/users/([^/]+)/adjust", UserAdjustHandler),
    (r"/api/admin/users/([^/]+)/overdraft", UserOverdraftHandler),
]
