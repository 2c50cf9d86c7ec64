"""Login throttling under a parallel burst: N wrong passwords for one account fired at once
(from one address, and from N addresses behind a trusted proxy), real bcrypt cost (12 rounds),
the embedded database. Prints how many bcrypt checks ran, the statuses, and the wall time; then
checks that the right password of another account still gets in from the locked address.

    .venv/bin/python bench/login_burst.py [--burst 50] [--rounds 12]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import tornado.httpserver  # noqa: E402
import tornado.netutil  # noqa: E402

from server.app import make_app  # noqa: E402
from server.embedded_db import EmbeddedMongo  # noqa: E402
from server.secret_box import SecretBox  # noqa: E402
from server.settings import Settings  # noqa: E402
from server.storage.db import Storage  # noqa: E402
from server.wiring import build_deps  # noqa: E402

PASSWORD = "correct horse battery"


async def burst(http: httpx.AsyncClient, email: str, n: int, proxied: bool) -> dict:
    def headers(i: int) -> dict[str, str]:
        return {"X-Forwarded-For": f"198.51.100.{i % 250 + 1}"} if proxied else {}

    start = time.perf_counter()
    answers = await asyncio.gather(*(http.post("/api/user/login", headers=headers(i),
                                               json={"email": email, "password": f"wrong {i}"}) for i in range(n)))
    return {"statuses": dict(Counter(r.status_code for r in answers)), "seconds": round(time.perf_counter() - start, 3)}


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="jiuliu-login-"))
    db = EmbeddedMongo(tmp / "db")
    await db.start()
    storage = Storage.connect(db.url, "login_burst")
    storage.box = SecretBox.from_settings("", tmp)
    await storage.ensure_indexes()
    settings = Settings(port=0, bcrypt_rounds=args.rounds, data_dir=str(tmp), trusted_proxies="127.0.0.1/32")
    deps = await build_deps(settings, storage)
    checks = 0
    verify = deps.users.hasher.verify

    async def counting(password: str, hashed: str | None) -> bool:
        nonlocal checks
        checks += 1
        return await verify(password, hashed)

    deps.users.hasher.verify = counting  # type: ignore[method-assign]
    server = tornado.httpserver.HTTPServer(make_app(settings, deps))
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    out: dict = {"burst": args.burst, "bcrypt_rounds": args.rounds,
                 "login_account_attempts": settings.login_account_attempts}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sockets[0].getsockname()[1]}", timeout=120) as http:
            for label, proxied in (("one_address", False), ("many_addresses_behind_proxy", True)):
                name = f"victim{int(proxied)}"
                email = f"{name}@example.test"
                await http.post("/api/user/register", json={"username": name, "email": email, "password": PASSWORD})
                checks = 0
                out[label] = {**await burst(http, email, args.burst, proxied), "bcrypt_checks": checks}
            await http.post("/api/user/register",
                            json={"username": "bystander", "email": "bystander@example.test", "password": PASSWORD})
            r = await http.post("/api/user/login", json={"email": "bystander@example.test", "password": PASSWORD})
            out["other_account_right_password_from_same_address"] = r.status_code
    finally:
        server.stop()
        for hook in reversed(deps.shutdown_hooks):
            result = hook()
            if hasattr(result, "__await__"):
                await result
        await storage.close()
        db.stop()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
