"""Database writes per relayed request (issue 15): counted with a PyMongo command listener on the
relay's own client (nx-27017 has no opcounters), over real HTTP with the emulator upstream.
About one document write per billed request: its usage row; the ledger entry, the balance move,
the key's totals and the budget leases are per user, key or flush, not per request."""

from __future__ import annotations

import asyncio

from pymongo import monitoring

from tests.relay.support import make_key, make_user

MSG = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
WRITES = ("insert", "update", "delete", "findAndModify")


class Counter(monitoring.CommandListener):
    """Commands and the documents they write, by command name."""

    def __init__(self) -> None:
        self.commands: dict[str, int] = {}
        self.docs: dict[str, int] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name, cmd = event.command_name, event.command
        self.commands[name] = self.commands.get(name, 0) + 1
        if name in WRITES:
            field = {"insert": "documents", "update": "updates", "delete": "deletes"}.get(name, "")
            n = len(cmd.get(field, [])) if name != "findAndModify" else 1
            key = f"{name}:{cmd.get(name)}"
            self.docs[key] = self.docs.get(key, 0) + n

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def reset(self) -> None:
        self.commands.clear()
        self.docs.clear()

    def writes(self) -> int:
        return sum(self.docs.values())


COUNTER = Counter()
DB_EVENT_LISTENERS = [COUNTER]  # the shared ``storage`` fixture connects with it


# One flush for the whole run (the final one): its per-user, per-key and roll-up writes counted once.
RELAY_SETTINGS = {"user_max_concurrency": 1000, "usage_flush_interval": 30}


async def test_about_one_write_per_billed_request(relay, pool):
    users = [await make_user(relay.deps.storage, balance=100_000_000) for _ in range(2)]
    keys = [await make_key(relay.deps.storage, u["_id"], "claude") for u in users]
    async with relay.client() as http:
        for key in keys:  # warm: key lookups cached, first leases taken
            assert (await http.post("/v1/messages", json=MSG, headers={"x-api-key": key})).status_code == 200
        await relay.deps.recorder.flush()
        COUNTER.reset()
        n = 200
        sem = asyncio.Semaphore(8)

        async def one(i: int) -> int:
            async with sem:
                r = await http.post("/v1/messages", json=MSG, headers={"x-api-key": keys[i % 2]})
                return r.status_code

        assert set(await asyncio.gather(*[one(i) for i in range(n)])) == {200}
        await relay.deps.recorder.flush()
    writes = COUNTER.writes()
    print(f"\nper request: {writes / n:.2f} document writes, "
          f"{sum(COUNTER.commands.values()) / n:.2f} commands; {COUNTER.docs}; {COUNTER.commands}")
    ids = [u["_id"] for u in users]
    assert await relay.deps.storage.db.usage.count_documents({"user_id": {"$in": ids}}) == n + 2
    assert COUNTER.docs["insert:usage"] == n  # the one write each request costs
    assert writes <= 1.2 * n, COUNTER.docs  # + per user, key, flush and lease renewal
    for user in users:
        balance, total = await relay.deps.ledger.balance_and_sum(user["_id"])
        assert balance == 100_000_000 + total < 100_000_000
