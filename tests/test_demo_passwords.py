"""F12: demo mode no longer uses a published operator password: each run generates the
operator's and the demo user's passwords, prints them, and the previous run's stop working."""

from __future__ import annotations

import re
from types import SimpleNamespace

from server.demo import ADMIN_EMAIL, USER_EMAIL, start_demo
from tests.support import RelayUnderTest


def _password(lines: list[str], label: str, email: str) -> str:
    line = next(l for l in lines if l.strip().startswith(label))
    match = re.search(re.escape(email) + r" / (\S+)", line)
    assert match, line
    return match.group(1)


async def test_each_demo_run_prints_fresh_passwords(storage):
    relay = await RelayUnderTest.start(storage)
    runtime = SimpleNamespace(deps=relay.deps, storage=storage, base_url=relay.base_url)
    try:
        first = await start_demo(runtime)
        second = await start_demo(runtime)
        admin1, admin2 = (_password(lines, "operator login:", ADMIN_EMAIL) for lines in (first, second))
        user1, user2 = (_password(lines, "demo user login:", USER_EMAIL) for lines in (first, second))
        assert admin1 != admin2 and user1 != user2
        assert "admin-demo-password" not in "\n".join(first + second)
        assert len(admin2) >= 16
        async with relay.client() as http:
            r = await http.post("/api/user/login", json={"email": ADMIN_EMAIL, "password": admin2})
            assert r.status_code == 200 and r.json()["user"]["role"] == "admin"
            r = await http.post("/api/user/login", json={"email": ADMIN_EMAIL, "password": admin1})
            assert r.status_code == 401
            r = await http.post("/api/user/login", json={"email": USER_EMAIL, "password": user2})
            assert r.status_code == 200
        assert any("HTTP 200" in line for line in second)  # the banner's first call still works
    finally:
        await relay.stop()
