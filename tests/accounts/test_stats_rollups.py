"""``GET /api/user/stats`` read from the roll-ups says what the raw rows say: each period (from
its hour), ``by_key`` (also once a key with usage is deleted: then from the rows) and ``daily``."""

from __future__ import annotations

import datetime as dt

from server.pricing.usage import Usage
from server.storage.usage_windows import DAY, HOUR, floor_to
from tests.accounts_support import account, usage_record

UTC = dt.timezone.utc


async def test_stats_from_rollups_match_the_rows(relay):
    deps = relay.deps
    usage = deps.stats.usage
    async with relay.client() as http:
        acct = await account(http)
        keys = [(await acct.post("/api/user/keys", {"name": f"k{i}"})).json() for i in range(3)]
        now = dt.datetime.now(UTC)
        ages = [dt.timedelta(minutes=m) for m in (3, 61, 59 * 24, 7 * 1440 - 30, 7 * 1440 + 90, 20 * 1440,
                                                  30 * 1440 - 50, 30 * 1440 + 70, 45 * 1440)]
        records = [await usage_record(deps, acct.id, keys[i % 3]["id"], ts=now - age,
                                      model=("claude-opus-4-1" if i % 2 else "claude-sonnet-4-5"),
                                      usage=Usage(input=100 * (i + 1), output=7 * i, cache_read=1000 * i))
                   for i, age in enumerate(ages * 3)]
        await deps.charges.charge_many(records)

        async def check() -> dict:
            stats = (await acct.get("/api/user/stats")).json()
            end = floor_to(dt.datetime.now(UTC), DAY) + DAY
            for name, period in stats["periods"].items():
                since = dt.datetime.fromisoformat(period["since"].replace("Z", "+00:00"))
                assert since == floor_to(since, HOUR)
                raw = await usage.totals(acct.id, since, end)
                assert (period["requests"], period["cost"], period["tokens"]) == \
                    (raw["requests"], raw["cost"], raw["tokens"]), name
            since30 = dt.datetime.fromisoformat(stats["periods"]["30d"]["since"].replace("Z", "+00:00"))
            raw_keys = await usage.grouped(acct.id, "key_id", since30, end)
            assert [(k["key_id"], k["requests"], k["cost"], k["tokens"]) for k in stats["by_key"]] == \
                [(k["key_id"], k["requests"], k["cost"], k["tokens"]) for k in raw_keys]
            for day in stats["daily"]:
                start = dt.datetime.fromisoformat(day["date"]).replace(tzinfo=UTC)
                raw = await usage.totals(acct.id, start, start + DAY)
                assert (day["requests"], day["cost"]) == (raw["requests"], raw["cost"]), day["date"]
            return stats

        stats = await check()
        assert stats["periods"]["30d"]["requests"] == 21 and stats["periods"]["7d"]["requests"] == 12
        assert len(stats["by_key"]) == 3 and not any(k["deleted"] for k in stats["by_key"])
        assert (await acct.delete(f"/api/user/keys/{keys[1]['id']}")).status_code == 200
        stats = await check()
        gone = [k for k in stats["by_key"] if k["deleted"]]
        assert [k["key_id"] for k in gone] == [keys[1]["id"]] and gone[0]["key_name"] is None
        assert sum(k["requests"] for k in stats["by_key"]) == stats["periods"]["30d"]["requests"]
