"""``/api/admin/groups``, ``/api/admin/error-rules`` and ``/api/admin/prices``: what the relay
sells and how its pools react to failures."""

from __future__ import annotations

from admin_api.admin_auth import AdminHandler, admin_required, path_id
from server.errors import BadRequest
from server.i18n import t


class GroupsHandler(AdminHandler):
    @admin_required
    async def get(self) -> None:
        self.write_json({"data": await self.deps.admin.groups.list()})

    @admin_required
    async def post(self) -> None:
        self.write_json(await self.deps.admin.groups.create(self.admin_id, self.get_json_body()), status=201)


class GroupHandler(AdminHandler):
    @admin_required
    async def patch(self, name: str) -> None:
        self.write_json(await self.deps.admin.groups.update(self.admin_id, path_id(name),
                                                             self.get_json_body()))


class ErrorRulesHandler(AdminHandler):
    @admin_required
    async def get(self) -> None:
        self.write_json(await self.deps.admin.rules.get())

    @admin_required
    async def put(self) -> None:
        body = self.get_json_body()
        if "rules" not in body:
            raise BadRequest(t("缺少字段 rules"), field="rules")
        self.write_json(await self.deps.admin.rules.replace(self.admin_id, body["rules"]))


class ErrorRulesResetHandler(AdminHandler):
    @admin_required
    async def post(self) -> None:
        self.write_json(await self.deps.admin.rules.reset(self.admin_id))


class PricesHandler(AdminHandler):
    @admin_required
    async def get(self) -> None:
        self.write_json({"data": await self.deps.admin.prices.list(),
                         "catalogue": await self.deps.admin.prices.catalogue()})

    @admin_required
    async def post(self) -> None:
        self.write_json(await self.deps.admin.prices.create(self.admin_id, self.get_json_body()), status=201)


class PriceHandler(AdminHandler):
    @admin_required
    async def patch(self, price_id: str) -> None:
        self.write_json(await self.deps.admin.prices.update(self.admin_id, path_id(price_id),
                                                             self.get_json_body()))

    @admin_required
    async def delete(self, price_id: str) -> None:
        await self.deps.admin.prices.delete(self.admin_id, path_id(price_id))
        self.write_json({"deleted": True, "id": price_id})


class PriceCatalogueHandler(AdminHandler):
    """The catalogue in force, the installed one and what applying it would change."""

    @admin_required
    async def get(self) -> None:
        self.write_json(await self.deps.admin.prices.catalogue())


class PriceCatalogueApplyHandler(AdminHandler):
    @admin_required
    async def post(self) -> None:
        self.write_json(await self.deps.admin.prices.apply(self.admin_id, self.get_json_body()))


default_handlers = [
    (r"/api/admin/groups", GroupsHandler),
    (r"/api/admin/groups/([^/]+)", GroupHandler),
    (r"/api/admin/error-rules", ErrorRulesHandler),
    (r"/api/admin/error-rules/reset", ErrorRulesResetHandler),
    (r"/api/admin/prices", PricesHandler),
    (r"/api/admin/prices/catalogue", PriceCatalogueHandler),
    (r"/api/admin/prices/catalogue/apply", PriceCatalogueApplyHandler),
    (r"/api/admin/prices/([^/]+)", PriceHandler),
]
