"""Login throttling: per account and per address, exponential back-off, shared through the
database (two throttles over one store agree), counted and checked in one atomic step (a
parallel burst gets at most the configured number of bcrypt checks), separate locks (a locked
address does not lock out a clean account's right password), and the client's address behind
trusted proxies only."""

from __future__ import annotations

import asyncio
import time

import pytest

from server.accounts.throttle import LoginThrottle, ThrottlePolicy
from server.errors import RateLimited
from server.storage.login_attempts import LoginAttemptStore
from tests.accounts_support import PASSWORD, register, unique
from tests.support import RelayUnderTest


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t


def test_policy_backs_off_exponentially():
    policy = ThrottlePolicy(attempts=3, base_delay=1.0, max_delay=10.0)
    assert [policy.delay(n) for n in range(1, 9)] == [0, 0, 1, 2, 4, 8, 10, 10]


async def _refused(throttle: LoginThrottle, email: str, ip: str) -> float:
    with pytest.raises(RateLimited) as info:
        await throttle.admit(email, ip)
    return float(info.value.retry_after)


async def test_processes_share_counters(storage):
    clock = FakeClock()
    policy = ThrottlePolicy(attempts=3, base_delay=4.0, max_delay=60.0, reset_after=300.0)
    one = LoginThrottle(LoginAttemptStore(storage), clock, account=policy, ip=ThrottlePolicy(100))
    two = LoginThrottle(LoginAttemptStore(storage), clock, account=policy, ip=ThrottlePolicy(100))
    email = f"{unique()}@example.test"
    await one.failed(await one.admit(email, "10.0.0.1"))
    await two.failed(await two.admit(email, "10.0.0.2"))
    await one.failed(await one.admit(email, "10.0.0.3"))  # the third check earns a 4 s lock
    for throttle in (one, two):
        assert await _refused(throttle, email, "10.0.0.9") == 4
    clock.t += 5
    await one.failed(await one.admit(email, "10.0.0.9"))  # fourth failure: 8 s
    clock.t += 7
    assert await _refused(two, email, "10.0.0.9") == 1
    clock.t += 400  # a quiet period forgives the count
    ticket = await one.admit(email, "10.0.0.9")
    assert ticket.account_n == 1
    await one.succeeded(ticket)
    assert await storage.db.login_attempts.count_documents({"_id": f"acct:{email}"}) == 0


async def test_parallel_burst_gets_at_most_the_configured_checks(relay, monkeypatch):
    """F6: 50 wrong passwords at once get exactly ``login_account_attempts`` bcrypt checks."""
    async with relay.client() as http:
        _, email = await register(http)
    checks = 0
    verify = relay.deps.users.hasher.verify

    async def counting(password, hashed):
        nonlocal checks
        checks += 1
        return await verify(password, hashed)

    monkeypatch.setattr(relay.deps.users.hasher, "verify", counting)
    async with relay.client() as http:
        answers = await asyncio.gather(*(
            http.post("/api/user/login", json={"email": email, "password": f"wrong {i}"}) for i in range(50)))
    statuses = [r.status_code for r in answers]
    assert checks == relay.settings.login_account_attempts == 5
    assert statuses.count(401) == 5 and statuses.count(429) == 45
    await relay.deps.storage.db.login_attempts.delete_many({})


async def test_account_lock_over_http(relay, monkeypatch):
    async with relay.client() as http:
        _, email = await register(http)
        for _ in range(5):  # five checks; the fifth failure earns a one-second lock
            r = await http.post("/api/user/login", json={"email": email, "password": "wrong pass"})
            assert r.status_code == 401
        r = await http.post("/api/user/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 429
        assert r.headers["retry-after"] == "1"
        assert r.json()["error"]["type"] == "rate_limit_exceeded" and "秒后重试" in r.json()["error"]["message"]
        start = time.time()
        monkeypatch.setattr(relay.deps.clock, "now", lambda: start + 2)
        r = await http.post("/api/user/login", json={"email": email, "password": "wrong pass"})
        assert r.status_code == 401  # sixth failure: two seconds
        r = await http.post("/api/user/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 429 and r.headers["retry-after"] == "2"
        monkeypatch.setattr(relay.deps.clock, "now", lambda: start + 5)
        r = await http.post("/api/user/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200
        assert await relay.deps.storage.db.login_attempts.count_documents({"_id": f"acct:{email}"}) == 0
    await relay.deps.storage.db.login_attempts.delete_many({})


async def test_address_lock_spares_a_clean_account(relay, monkeypatch):
    """Guessing many accounts from one address locks the address for further guesses, but the
    right password of an account that address did not guess still works (F6)."""
    start = time.time()
    monkeypatch.setattr(relay.deps.clock, "now", lambda: start)
    async with relay.client() as http:
        _, email = await register(http)
        _, guessed = await register(http)
        r = await http.post("/api/user/login", json={"email": guessed, "password": "guess guess"})
        assert r.status_code == 401
        for _ in range(19):  # twenty failures from this address: it is locked
            r = await http.post("/api/user/login",
                                json={"email": f"{unique()}@example.test", "password": "guess guess"})
            assert r.status_code == 401
        doc = await relay.deps.storage.db.login_attempts.find_one({"_id": "ip:127.0.0.1"})
        assert doc["failures"] == 20 and doc["locked_until"] == pytest.approx(start + 1, abs=0.01)
        # an account this address already failed on is refused from here, even the right password
        r = await http.post("/api/user/login", json={"email": guessed, "password": PASSWORD})
        assert r.status_code == 429 and r.headers["retry-after"] == "1"
        # the clean account's right password gets in
        r = await http.post("/api/user/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        after = await relay.deps.storage.db.login_attempts.find_one({"_id": "ip:127.0.0.1"})
        assert after["failures"] == 20 and after["locked_until"] == pytest.approx(start + 1, abs=0.01)
        # a wrong password for a clean account from the locked address gets one check only
        _, third = await register(http)
        r = await http.post("/api/user/login", json={"email": third, "password": "guess guess"})
        assert r.status_code == 401
        r = await http.post("/api/user/login", json={"email": third, "password": "guess guess"})
        assert r.status_code == 429
        monkeypatch.setattr(relay.deps.clock, "now", lambda: start + 2)  # the address lock ran out
        r = await http.post("/api/user/login", json={"email": guessed, "password": PASSWORD})
        assert r.status_code == 200
    await relay.deps.storage.db.login_attempts.delete_many({})


async def test_trusted_proxy_gives_each_client_its_own_address(storage):
    """Behind a trusted proxy each client's address is counted on its own; from an untrusted
    peer X-Forwarded-For is ignored."""
    proxied = await RelayUnderTest.start(storage, trusted_proxies="127.0.0.0/8", login_ip_attempts=3)
    try:
        async with proxied.client() as http:
            for i in range(3):  # 203.0.113.7 guesses three accounts: its address is locked
                r = await http.post("/api/user/login", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7"},
                                    json={"email": f"{unique()}@example.test", "password": "guess guess"})
                assert r.status_code == 401
            docs = {d["_id"]: d async for d in storage.db.login_attempts.find({"_id": {"$regex": "^ip:"}})}
            assert docs["ip:203.0.113.7"]["failures"] == 3 and "ip:127.0.0.1" not in docs
            assert "ip:6.6.6.6" not in docs  # the client-written hop proves nothing
            _, other = await register(http)
            r = await http.post("/api/user/login", headers={"X-Forwarded-For": "203.0.113.7"},
                                json={"email": other, "password": "guess guess"})
            assert r.status_code == 401  # clean account: one check
            r = await http.post("/api/user/login", headers={"X-Forwarded-For": "203.0.113.7"},
                                json={"email": other, "password": "guess guess"})
            assert r.status_code == 429
            r = await http.post("/api/user/login", headers={"X-Real-IP": "198.51.100.4"},
                                json={"email": other, "password": "guess guess"})
            assert r.status_code == 401  # another client behind the proxy is not locked
    finally:
        await proxied.stop()
    await storage.db.login_attempts.delete_many({})


async def test_forwarded_for_ignored_from_untrusted_peer(relay):
    async with relay.client() as http:
        r = await http.post("/api/user/login", headers={"X-Forwarded-For": "192.0.2.55"},
                            json={"email": f"{unique()}@example.test", "password": "guess guess"})
        assert r.status_code == 401
    assert await relay.deps.storage.db.login_attempts.find_one({"_id": "ip:192.0.2.55"}) is None
    assert await relay.deps.storage.db.login_attempts.find_one({"_id": "ip:127.0.0.1"}) is not None
    await relay.deps.storage.db.login_attempts.delete_many({})


async def test_a_failed_check_is_not_a_guess(relay, monkeypatch):
    """A login whose check itself fails (a database timeout, say) gives its attempt back: five
    such errors must not lock the account against the right password."""
    from pymongo.errors import ExecutionTimeout

    async with relay.client() as http:
        _, email = await register(http)
    lookup = relay.deps.users.store.get_by_email

    async def stalled(_email):
        raise ExecutionTimeout("operation exceeded time limit")

    monkeypatch.setattr(relay.deps.users.store, "get_by_email", stalled)
    async with relay.client() as http:
        for _ in range(relay.settings.login_account_attempts):
            assert (await http.post("/api/user/login", json={"email": email, "password": PASSWORD})).status_code == 503
        monkeypatch.setattr(relay.deps.users.store, "get_by_email", lookup)
        r = await http.post("/api/user/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    await relay.deps.storage.db.login_attempts.delete_many({})
