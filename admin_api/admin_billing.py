"""``/api/admin/recharges`` and ``/api/admin/codes``: approving recharges, making, listing,
revoking and exporting redeem codes."""

from __future__ import annotations

from admin_api.admin_auth import AdminHandler, admin_required, path_id
from server.accounts import fields as f


class RechargesHandler(AdminHandler):
    @admin_required
    async def get(self) -> None:
        limit, offset = self.page_args()
        rows, total = await self.deps.admin.billing.recharges(self.get_query_argument("status", None) or None,
                                                              limit, offset)
        self.write_json({"data": rows, "total": total, "limit": limit, "offset": offset})


class RechargeActionHandler(AdminHandler):
    @admin_required
    async def post(self, order_id: str, action: str) -> None:
        billing = self.deps.admin.billing
        if action == "approve":
            self.write_json(await billing.approve(self.admin_id, path_id(order_id)))
        else:
            reason = f.text(self.body_or_empty(), "reason", required=False, max_len=500)
            self.write_json(await billing.reject(self.admin_id, path_id(order_id), reason))


class CodesHandler(AdminHandler):
    @admin_required
    async def get(self) -> None:
        limit, offset = self.page_args()
        rows, total = await self.deps.admin.billing.codes(self.get_query_argument("status", None) or None,
                                                          limit, offset)
        self.write_json({"data": rows, "total": total, "limit": limit, "offset": offset})

    @admin_required
    async def post(self) -> None:
        codes = await self.deps.admin.billing.create_codes(self.admin_id, self.get_json_body())
        self.write_json({"data": codes}, status=201)


class CodeRevokeHandler(AdminHandler):
    @admin_required
    async def post(self, code_id: str) -> None:
        self.write_json(await self.deps.admin.billing.revoke(self.admin_id, path_id(code_id)))


class CodesExportHandler(AdminHandler):
    @admin_required
    async def get(self) -> None:
        text = await self.deps.admin.billing.export_csv(self.get_query_argument("status", None) or None)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", 'attachment; filename="redeem-codes.csv"')
        self.finish(text.encode("utf-8"))


default_handlers = [
    (r"/api/admin/recharges", RechargesHandler),
    (r"/api/admin/recharges/([^/]+)/(approve|reject)", RechargeActionHandler),
    (r"/api/admin/codes", CodesHandler),
    (r"/api/admin/codes/export", CodesExportHandler),
    (r"/api/admin/codes/([^/]+)/revoke", CodeRevokeHandler),
]
