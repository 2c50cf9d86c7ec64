"""Login throttling: per account and per address, exponential back-off, shared through the
database (two throttles over one store agree), and a clear 429 with ``retry-after``."""

from __future__ import annotations

import time

from server.accounts.throttle import LoginThrottle, ThrottlePolicy
from server.errors import RateLimited
from server.storage.login_attempts import LoginAttemptStore
from tests.accounts_support import PASSWORD, register, unique


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t


def test_policy_backs_off_exponentially():
    policy = ThrottlePolicy(free_failures=3, base_delay=1.0, max_delay=10.0)
    assert [policy.delay(n) for n in range(1, 9)] == [0, 0, 0, 1, 2, 4, 8, 10]


async def test_processes_share_counters(storage):
    clock = FakeClock()
    policy = ThrottlePolicy(free_failures=2, base_delay=4.0, max_delay=60.0, reset_after=300.0)
    one = LoginThrottle(LoginAttemptStore(storage), clock, account=policy, ip=ThrottlePolicy(100))
    two = LoginThrottle(LoginAttemptStore(storage), clock, account=policy, ip=ThrottlePolicy(100))
    email = f"{unique()}@example.test"
    await one.failure(email, "10.0.0.1")
    await two.failure(email, "10.0.0.2")
    await one.check(email, "10.0.0.3")  # two failures are free
    await two.failure(email, "10.0.0.2")
    for throttle in (one, two):
        try:
            await throttle.check(email, "10.0.0.9")
            raise AssertionError("not throttled")
        except RateLimited as exc:
            assert exc.retry_after == 4 and exc.headers["retry-after"] == "4"
    clock.t += 5
    await one.check(email, "10.0.0.9")
    await one.failure(email, "10.0.0.9")  # fourth failure: 8 s
    clock.t += 7
    try:
        await two.check(email, "10.0.0.9")
        raise AssertionError("not throttled")
    except RateLimited as exc:
        assert exc.retry_after == 1
    clock.t += 400  # a quiet period forgives the count
    await one.failure(email, "10.0.0.9")
    await two.check(email, "10.0.0.9")
    await one.success(email)
    assert await storage.login_attempts.count_documents({"_id": f"acct:{email}"}) == 0


async def test_account_lock_over_http(relay, monkeypatch):
    async with relay.client() as http:
        _, email = await register(http)
        for _ in range(6):  # five free failures, the sixth earns a one-second lock
            r = await http.post("/api/user/login", json={"email": email, "password": "wrong pass"})
            assert r.status_code == 401
        r = await http.post("/api/user/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 429
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"]["type"] == "rate_limit_exceeded" and "秒后重试" in r.json()["error"]["message"]
        start = time.time()
        monkeypatch.setattr(relay.deps.clock, "now", lambda: start + 2)
        r = await http.post("/api/user/login", json={"email": email, "password": "wrong pass"})
        assert r.status_code == 401  # seventh failure: two seconds
        r = await http.post("/api/user/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 429 and r.headers["retry-after"] == "2"
        monkeypatch.setattr(relay.deps.clock, "now", lambda: start + 5)
        r = await http.post("/api/user/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200
        assert await relay.deps.storage.login_attempts.count_documents({"_id": f"acct:{email}"}) == 0


async def test_address_lock_over_http(relay, monkeypatch):
    """Guessing many accounts from one address locks the address, valid logins included."""
    async with relay.client() as http:
        _, email = await register(http)
        statuses = []
        for _ in range(30):
            r = await http.post("/api/user/login",
                                json={"email": f"{unique()}@example.test", "password": "guess guess"})
            statuses.append(r.status_code)
            if r.status_code == 429:
                break
        assert statuses[-1] == 429 and set(statuses[:-1]) == {401}
        r = await http.post("/api/user/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        start = time.time()
        monkeypatch.setattr(relay.deps.clock, "now", lambda: start + 3600)
        r = await http.post("/api/user/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200
    await relay.deps.storage.login_attempts.delete_many({})
