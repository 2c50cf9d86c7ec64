"""The relay's upstream transport end to end: an https emulator (trustme CA), outbound proxies
through a real proxy process on loopback (pproxy: HTTP CONNECT, absolute-form, SOCKS5, SOCKS5h),
a dead proxy, compressed and odd answers, and accounts whose own configuration is unusable."""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib
import socket
import ssl
import sys
import tempfile
import time
from typing import Any

import orjson
import pytest
import pytest_asyncio
import trustme

from emulator import EmulatorAccount, start_emulator
from tests.admin.support import Api, error, ok, signed_in
from tests.relay.support import make_key, make_user, parse_sse
from tests.support import RelayUnderTest

MSG = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
SECRET = "s3cret-proxy-pass"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _no_uvloop() -> str:
    """A PYTHONPATH on which ``import uvloop`` fails: pproxy installs uvloop when it can import
    it, and its start-up (``get_event_loop`` without a loop) fails on uvloop 0.23, a relay
    dependency since issue 15."""
    shim = pathlib.Path(tempfile.mkdtemp(prefix="no-uvloop-")) / "uvloop"
    shim.mkdir()
    (shim / "__init__.py").write_text("raise ModuleNotFoundError('hidden from pproxy')\n")
    return os.pathsep.join([str(shim.parent), *filter(None, [os.environ.get("PYTHONPATH")])])


class ProxyProcess:
    """``pproxy`` (HTTP and SOCKS5 on one port) as its own process; its log says where each
    connection went, so a test can see its calls really went through it."""

    def __init__(self, auth: str = "") -> None:
        self.auth = auth
        self.port = 0
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None

    async def start(self) -> "ProxyProcess":
        self.port = free_port()
        listen = f"http+socks5://127.0.0.1:{self.port}" + (f"#{self.auth}" if self.auth else "")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-u", "-m", "pproxy", "-l", listen, "-v",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": _no_uvloop()})
        self._reader = asyncio.create_task(self._read())
        await self.wait_for("Serving on")
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            async with self._changed:
                self.lines.append(line.decode(errors="replace").strip())
                self._changed.notify_all()

    async def wait_for(self, *parts: str, timeout: float = 20) -> str:
        """The first log line containing every one of ``parts`` (waiting for it to be written)."""
        def found() -> str | None:
            return next((line for line in self.lines if all(p in line for p in parts)), None)

        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: found() is not None)
        return found() or ""

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()
        if self._reader is not None:
            await self._reader


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    return authority, str(path)


@pytest_asyncio.fixture(scope="module")
async def relay(storage, ca):
    """The relay trusting the test CA beside the system's (``upstream_ca_file``)."""
    server = await RelayUnderTest.start(storage, upstream_ca_file=ca[1])
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module")
async def emus(ca):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca[0].issue_cert("localhost", "127.0.0.1").configure_cert(ctx)
    names = ["p1", "p2", "p3", "p4", "good1", "good2"]
    plain = await start_emulator([EmulatorAccount(api_key=f"emu-key-{n}", name=n) for n in names])
    tls = await start_emulator([EmulatorAccount(api_key=f"emu-key-{n}", name=n) for n in names], ssl=ctx)
    yield plain, tls
    await plain.stop()
    await tls.stop()


@pytest_asyncio.fixture(scope="module")
async def proxy():
    process = await ProxyProcess().start()
    yield process
    await process.stop()


@pytest_asyncio.fixture(scope="module")
async def admin(relay):
    _, token = await signed_in(relay, "admin")
    async with relay.client() as http:
        yield Api(http, token)


@pytest_asyncio.fixture
async def key(relay):
    await relay.deps.prices.seed_if_empty()
    user = await make_user(relay.deps.storage, balance=100_000_000)
    return await make_key(relay.deps.storage, user["_id"], "claude")


@pytest_asyncio.fixture(autouse=True)
async def empty_pool(relay, emus):
    """Each test builds the pool it needs."""
    for doc in await relay.deps.upstreams.list():
        await relay.deps.upstreams.delete(doc["_id"])
    for emu in emus:
        emu.state.reset(knobs=True)
    await relay.deps.pools.reload()
    relay.deps.sticky._cache.clear()
    yield


async def account(relay, name: str, base_url: str, **fields: Any) -> dict[str, Any]:
    doc = await relay.deps.upstreams.create({"name": name, "groups": ["claude"], "protocol": "anthropic",
                                             "base_url": base_url, "api_key": f"emu-key-{name}", **fields})
    await relay.deps.pools.reload()
    return doc


async def state(relay, account_id: str) -> dict[str, Any]:
    doc = await relay.deps.upstreams.get(account_id)
    assert doc is not None
    return doc["state"]


async def call(relay, key: str, stream: bool = False, i: int = 0, **extra: Any) -> Any:
    body = {**MSG, "stream": stream, "messages": [{"role": "user", "content": f"conversation {i}"}], **extra}
    async with relay.client() as http:
        return await http.post("/v1/messages", json=body, headers={"x-api-key": key})


def tls_url(emu) -> str:
    return emu.base_url.replace("127.0.0.1", "localhost")  # the name the certificate carries


async def test_https_upstream_direct_verified_against_the_configured_ca(relay, emus, key):
    _, tls = emus
    doc = await account(relay, "p1", tls_url(tls))
    r = await call(relay, key)
    assert r.status_code == 200, r.text
    assert tls.state.requests["p1"] == 1
    assert (await state(relay, doc["_id"]))["status"] == "healthy"


@pytest.mark.parametrize("scheme, target, logged, dest", [
    ("http", "https", "http", "localhost"),         # CONNECT tunnel, TLS inside
    ("http", "http", "http", "localhost"),          # absolute-form request
    ("socks5", "https", "socks5", "127.0.0.1"),     # the name resolved by the relay
    ("socks5h", "https", "socks5", "localhost"),    # the name resolved by the proxy
    ("socks5", "http", "socks5", "127.0.0.1"),
])
async def test_calls_go_through_the_accounts_proxy(relay, emus, proxy, key, scheme, target, logged, dest):
    plain, tls = emus
    proxy.lines.clear()
    emu = tls if target == "https" else plain
    url = tls_url(emu) if target == "https" else emu.base_url.replace("127.0.0.1", "localhost")
    await account(relay, "p2", url, proxy=f"{scheme}://127.0.0.1:{proxy.port}")
    for stream in (False, True):
        r = await call(relay, key, stream=stream, i=int(stream))
        assert r.status_code == 200, r.text
        if stream:
            assert [n for n, _ in parse_sse(r.content)][-1] == "message_stop"
    # The proxy saw the connection to the emulator: by name where the proxy resolves it (CONNECT,
    # absolute-form, socks5h), by address where the relay did (socks5).
    line = await proxy.wait_for(f"{logged} ", f"-> {dest}:{emu.port}")
    assert line.startswith(logged)
    assert emu.state.requests["p2"] == 2


async def test_global_proxy_setting_and_direct_override(storage, ca, emus, proxy):
    plain, _ = emus
    proxy.lines.clear()
    relay = await RelayUnderTest.start(storage, upstream_ca_file=ca[1],
                                       upstream_proxy=f"socks5h://127.0.0.1:{proxy.port}")
    try:
        for doc in await relay.deps.upstreams.list():
            await relay.deps.upstreams.delete(doc["_id"])
        via = await account(relay, "p3", plain.base_url.replace("127.0.0.1", "localhost"))
        assert relay.deps.upstream_client.proxy_for(via) == f"socks5h://127.0.0.1:{proxy.port}"
        direct = {**via, "proxy": "direct"}
        assert relay.deps.upstream_client.proxy_for(direct) is None
        result = await relay.deps.pools.probe(via["_id"], relay.deps.upstream_client)
        assert result["ok"], result
        await proxy.wait_for("socks5 ", f"-> localhost:{plain.port}")  # resolved by the proxy (socks5h)
    finally:
        await relay.stop()
    # A dead global proxy: accounts that inherit it fail, a "direct" one does not use it.
    relay = await RelayUnderTest.start(storage, upstream_proxy=f"http://127.0.0.1:{free_port()}")
    try:
        for doc in await relay.deps.upstreams.list():
            await relay.deps.upstreams.delete(doc["_id"])
        inherits = await account(relay, "p3", plain.base_url)
        direct = await account(relay, "p4", plain.base_url, proxy="direct")
        failed = await relay.deps.pools.probe(inherits["_id"], relay.deps.upstream_client)
        assert not failed["ok"] and "proxy" in failed["error"]
        assert (await relay.deps.pools.probe(direct["_id"], relay.deps.upstream_client))["ok"]
    finally:
        await relay.stop()


async def test_dead_proxy_fails_over_and_cools_as_a_transport_error(relay, emus, key, admin, caplog):
    plain, _ = emus
    dead = free_port()
    bad = await account(relay, "p4", plain.base_url, proxy=f"http://user:{SECRET}@127.0.0.1:{dead}")
    await account(relay, "good1", plain.base_url)
    caplog.set_level(logging.INFO)  # (DEBUG has pymongo echo whole stored documents, keys included)
    for i in range(4):
        r = await call(relay, key, i=i)
        assert r.status_code == 200, r.text
    st = await state(relay, bad["_id"])
    assert st["status"] == "cooling" and st["cooldown_until"] > time.time()
    assert st["reason"].startswith("connect") and "proxy" in st["reason"]
    assert plain.state.requests["good1"] == 4 and plain.state.requests.get("p4", 0) == 0
    # The health probe goes through the same (dead) proxy.
    probe = ok(await admin.post(f"/api/admin/upstreams/{bad['_id']}/test"))
    assert probe["ok"] is False and "proxy" in probe["error"]
    # Credentials masked in every API answer, log line and audit row.
    listing = ok(await admin.get("/api/admin/upstreams"))
    shown = next(a for a in listing["data"] if a["id"] == bad["_id"])
    assert shown["proxy"] == f"http://user:***@127.0.0.1:{dead}"
    audit = ok(await admin.get("/api/admin/audit?limit=50"))
    texts = [orjson.dumps(listing).decode(), orjson.dumps(audit).decode(), orjson.dumps(probe).decode(),
             caplog.text, str(st)]
    assert all(SECRET not in text for text in texts)


async def test_proxy_credentials_are_masked_and_kept_through_the_admin_api(relay, admin, emus):
    plain, _ = emus
    body = {"name": "masked", "groups": ["claude"], "protocol": "anthropic", "base_url": plain.base_url,
            "api_key": "emu-key-good1", "proxy": f"socks5://user:{SECRET}@127.0.0.1:1080"}
    created = ok(await admin.post("/api/admin/upstreams", body), 201)
    assert created["proxy"] == "socks5://user:***@127.0.0.1:1080"
    # The form sends the masked value back unchanged: the stored password stays.
    path = f"/api/admin/upstreams/{created['id']}"
    edited = ok(await admin.patch(path, {"proxy": created["proxy"], "weight": 2}))
    assert edited["proxy"] == created["proxy"]
    stored = await relay.deps.upstreams.get(created["id"])
    assert stored["proxy"] == f"socks5://user:{SECRET}@127.0.0.1:1080"
    raw = await relay.deps.storage.db.upstreams.find_one({"_id": created["id"]})
    assert raw["proxy"].startswith("enc:v1:") and SECRET not in str(raw)  # sealed at rest like the key
    audit = ok(await admin.get("/api/admin/audit?limit=20"))
    assert SECRET not in orjson.dumps(audit).decode() and "user:***@" in orjson.dumps(audit).decode()
    assert ok(await admin.patch(path, {"proxy": "direct"}))["proxy"] == "direct"


@pytest.mark.parametrize("fields, field", [
    ({"base_url": "http://127.0.0.1:99999"}, "base_url"),
    ({"base_url": "http://127.0.0.1:0"}, "base_url"),
    ({"base_url": "ftp://127.0.0.1:21"}, "base_url"),
    ({"base_url": "https://例子.测试"}, "base_url"),
    ({"api_key": "sk-ant-测试"}, "api_key"),
    ({"api_key": "sk-ｆｕｌｌｗｉｄｔｈ"}, "api_key"),
    ({"api_key": "sk ant"}, "api_key"),
    ({"proxy": "ftp://127.0.0.1:21"}, "proxy"),
    ({"proxy": "http://127.0.0.1"}, "proxy"),
    ({"proxy": "socks5://127.0.0.1:70000"}, "proxy"),
    ({"proxy": "http://127.0.0.1:8080/path"}, "proxy"),
])
async def test_accounts_are_validated_on_create_and_update(relay, admin, emus, fields, field):
    plain, _ = emus
    body = {"name": "checked", "groups": ["claude"], "protocol": "anthropic", "base_url": plain.base_url,
            "api_key": "emu-key-good1", **fields}
    error(await admin.post("/api/admin/upstreams", body), 400, field)
    assert await relay.deps.upstreams.list() == []
    created = ok(await admin.post("/api/admin/upstreams", {**body, "base_url": plain.base_url,
                                                           "api_key": "emu-key-good1", "proxy": ""}), 201)
    error(await admin.patch(f"/api/admin/upstreams/{created['id']}", fields), 400, field)
    assert ok(await admin.get(f"/api/admin/upstreams/{created['id']}"))["base_url"] == plain.base_url


async def test_misconfigured_accounts_fail_over_and_show_why(relay, emus, key, admin):
    """The review's probe: port 99999 and a non-Latin-1 key (stored before validation existed) in a
    pool of good accounts made 20 of 30 calls 500. Now every call is answered and the broken
    accounts are taken out with the reason on the pools page."""
    plain, _ = emus
    await account(relay, "good1", plain.base_url)
    await account(relay, "good2", plain.base_url)
    port = await account(relay, "bad-port", "http://127.0.0.1:99999")
    latin = await account(relay, "bad-key", plain.base_url, api_key="sk-ant-密钥")
    prox = await account(relay, "bad-proxy", plain.base_url, proxy="gopher://127.0.0.1:70")
    statuses = [(await call(relay, key, stream=i % 2 == 0, i=i)).status_code for i in range(30)]
    assert statuses == [200] * 30
    listing = {a["name"]: a for a in ok(await admin.get("/api/admin/upstreams"))["data"]}
    for doc, words in ((port, "端口"), (latin, "api_key"), (prox, "代理")):
        shown = listing[doc["name"]]["state"]
        assert shown["status"] == "disabled", shown
        assert "config" in shown["reason"] and words in shown["reason"], shown
    assert plain.state.requests["good1"] + plain.state.requests["good2"] == 30
    # Fixing the configuration puts the account back in rotation.
    fixed = ok(await admin.patch(f"/api/admin/upstreams/{latin['_id']}", {"api_key": "emu-key-good1"}))
    assert fixed["state"]["status"] == "healthy"


@pytest.mark.parametrize("wire", ["gzip", "early-hints", "folded-headers", "bare-lf",
                                  "gzip,early-hints,folded-headers,bare-lf"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_compressed_and_odd_answers_reach_the_client_decoded(relay, emus, key, wire, stream):
    plain, _ = emus
    doc = await account(relay, "good1", plain.base_url)
    plain.state.patch("good1", {"wire": wire})
    r = await call(relay, key, stream=stream)
    assert r.status_code == 200, r.text
    assert "content-encoding" not in r.headers
    if stream:
        names = [n for n, _ in parse_sse(r.content)]
        assert names[0] == "message_start" and names[-1] == "message_stop" and "error" not in names
    else:
        assert r.json()["type"] == "message" and r.json()["usage"]["output_tokens"] > 0
    assert (await state(relay, doc["_id"]))["status"] == "healthy"


async def test_gzip_client_error_is_passed_through_decoded(relay, emus, key):
    plain, _ = emus
    doc = await account(relay, "good1", plain.base_url)
    plain.state.patch("good1", {"wire": "gzip", "fault": "400"})
    r = await call(relay, key)
    assert r.status_code == 400 and "content-encoding" not in r.headers
    assert r.json()["error"]["type"] == "invalid_request_error"  # JSON, not raw gzip bytes
    assert (await state(relay, doc["_id"]))["status"] == "healthy"


async def test_undecodable_answer_is_a_clear_502_and_does_not_cool(relay, key):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: compress\r\n"
                     b"Content-Length: 4\r\n\r\n\x1f\x9d\x90\x00")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        doc = await account(relay, "odd", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        r = await call(relay, key)
        assert r.status_code == 502 and "编码" in r.json()["error"]["message"], r.text
        assert (await state(relay, doc["_id"]))["status"] == "healthy"
    finally:
        server.close()


async def test_an_answer_the_parser_refuses_is_the_upstreams_transport_error(relay, emus, key):
    """A duplicated Content-Length (RFC 9112 lets a client refuse it; aiohttp does): fail over,
    the account cools like a connect failure, the client never sees a 500."""
    plain, _ = emus

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                     b"Content-Length: 2\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        odd = await account(relay, "dup-length", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}",
                            priority=10)  # tried first
        await account(relay, "good1", plain.base_url)
        r = await call(relay, key)
        assert r.status_code == 200, r.text
        st = await state(relay, odd["_id"])
        assert st["status"] == "cooling" and st["reason"].startswith("connect"), st
        assert plain.state.requests["good1"] == 1
    finally:
        server.close()
