"""F12: the dashboard page carries a strict CSP (scripts from this origin plus the hash of its
inline import map), nosniff, frame protection and a referrer policy; API answers (tokens, keys)
are never stored by caches."""

from __future__ import annotations

import base64
import hashlib
import re

from server.web.security import inline_script_hashes
from server.web.spa import SPA_DIR
from tests.accounts_support import PASSWORD, register


def _import_map_hash() -> str:
    html = (SPA_DIR / "index.html").read_text(encoding="utf-8")
    body = re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1)
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"


def test_the_hash_is_the_import_maps():
    html = (SPA_DIR / "index.html").read_text(encoding="utf-8")
    assert inline_script_hashes(html) == [_import_map_hash()]
    assert html.count("<script") == 2  # the import map and one external module: nothing else inline


async def test_dashboard_page_headers(relay):
    async with relay.client() as http:
        for path in ("/", "/keys", "/js/main.js"):
            r = await http.get(path)
            assert r.status_code == 200
            csp = r.headers["content-security-policy"]
            directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
            assert directives["script-src"] == f"'self' {_import_map_hash()}"
            assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["referrer-policy"] == "no-referrer"


async def test_answers_with_tokens_or_keys_are_not_stored(relay):
    async with relay.client() as http:
        _, email = await register(http)
        r = await http.post("/api/user/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        token = r.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        r = await http.post("/api/user/keys", json={"name": "k"}, headers=auth)
        assert r.status_code == 201 and r.json()["key"].startswith("sk-")
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        r = await http.post("/api/user/token/refresh", headers=auth)
        assert r.headers["cache-control"] == "no-store"
        r = await http.get("/api/nowhere")
        assert r.status_code == 404 and r.headers["cache-control"] == "no-store"
