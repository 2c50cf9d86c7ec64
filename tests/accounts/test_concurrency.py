"""Balance integrity under load: 200 concurrent operations on one user (open-mode recharges over
HTTP and charges through ``ChargeService``) leave balance == Σ ledger exactly."""

from __future__ import annotations

import asyncio

from server.pricing.usage import Usage
from server.storage.ledger import LedgerStore
from tests.accounts_support import account, usage_record


async def test_recharges_and_charges_reconcile(relay):
    deps = relay.deps
    await deps.runtime_settings.update(recharge_mode="open")
    try:
        async with relay.client() as http:
            acct = await account(http)
            key = (await acct.post("/api/user/keys", {"name": "load"})).json()
            records = [await usage_record(deps, acct.id, key["id"], usage=Usage(input=1000, output=200))
                       for _ in range(100)]
            recharges = [acct.post("/api/user/recharge", {"amount": "1.5", "description": f"#{i}"})
                         for i in range(100)]
            charges = [deps.charges.charge(record) for record in records]
            ops = [op for pair in zip(recharges, charges) for op in pair]
            results = await asyncio.gather(*ops)
            assert all(r.status_code == 201 for r in results[0::2])
            balance, total = await LedgerStore(deps.storage).balance_and_sum(acct.id)
            assert balance == total == 100 * 1_500_000 - 100 * 6000
            assert (await acct.get("/api/user/me")).json()["balance"] == balance
            assert await deps.storage.db.ledger.count_documents({"user_id": acct.id}) == 200
            assert await deps.storage.db.ledger.count_documents({"user_id": acct.id, "applied": False}) == 0
            page = (await acct.get("/api/user/transactions", params={"limit": 500})).json()
            assert page["total"] == 200 and sum(row["amount"] for row in page["data"]) == balance
            stats = (await acct.get("/api/user/stats")).json()
            assert stats["periods"]["today"]["requests"] == 100 or stats["periods"]["7d"]["requests"] == 100
            assert stats["periods"]["7d"]["cost"] == 600_000
    finally:
        await deps.runtime_settings.update(recharge_mode="manual")
