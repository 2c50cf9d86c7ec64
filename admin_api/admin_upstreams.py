"""``/api/admin/upstreams``: upstream accounts (list with live numbers, create, edit, switch,
delete, probe). Thin: parse, call ``deps.admin.upstreams``, serialise."""

from __future__ import annotations

from admin_api.admin_auth import AdminHandler, admin_required, path_id


class UpstreamsHandler(AdminHandler):
    @admin_required
    async def get(self) -> None:
        self.write_json({"data": await self.deps.admin.upstreams.list()})

    @admin_required
    async def post(self) -> None:
        created = await self.deps.admin.upstreams.create(self.admin_id, self.get_json_body())
        self.write_json(created, status=201)


class UpstreamHandler(AdminHandler):
    @admin_required
    async def get(self, account_id: str) -> None:
        self.write_json(await self.deps.admin.upstreams.get(path_id(account_id)))

    @admin_required
    async def patch(self, account_id: str) -> None:
        self.write_json(await self.deps.admin.upstreams.update(self.admin_id, path_id(account_id),
                                                                self.get_json_body()))

    @admin_required
    async def delete(self, account_id: str) -> None:
        await self.deps.admin.upstreams.delete(self.admin_id, path_id(account_id))
        self.write_json({"deleted": True, "id": account_id})


class UpstreamActionHandler(AdminHandler):
    @admin_required
    async def post(self, account_id: str, action: str) -> None:
        service = self.deps.admin.upstreams
        account_id = path_id(account_id)
        if action == "test":
            self.write_json(await service.test(self.admin_id, account_id))
        else:
            self.write_json(await service.set_enabled(self.admin_id, account_id, action == "enable"))


default_handlers = [
    (r"/api/admin/upstreams", UpstreamsHandler),
    (r"/api/admin/upstreams/([^/]+)", UpstreamHandler),
    (r"/api/admin/upstreams/([^/]+)/(enable|disable|test)", UpstreamActionHandler),
]
