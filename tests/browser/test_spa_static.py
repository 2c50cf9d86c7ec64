"""The dashboard's files, without a browser: the import map names every module with the
cache-busting version, the vendored files are the documented ones, the whole stays under its
size budget, and the relay serves files as they are and client routes as index.html."""

from __future__ import annotations

import json
import re
from pathlib import Path

SPA = Path(__file__).resolve().parents[2] / "static_spa"
BUDGET = 500 * 1024


def index_html() -> str:
    return (SPA / "index.html").read_text(encoding="utf-8")


def test_import_map_versions_every_module():
    html = index_html()
    version = re.search(r'name="app-version" content="([^"]+)"', html).group(1)
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', html, re.S).group(1))["imports"]
    modules = sorted(p.relative_to(SPA).as_posix() for d in ("js", "pages") for p in (SPA / d).glob("*.js"))
    assert sorted(k.lstrip("/") for k in imports) == modules, "run scripts/vendor-spa stamp"
    assert all(v == f"{k}?v={version}" for k, v in imports.items())
    for url in re.findall(r'(?:href|src)="(/[^"]+)"', html):
        assert url.endswith(f"?v={version}"), url
        assert (SPA / url.split("?")[0].lstrip("/")).is_file(), url


def test_modules_import_only_relative_paths_that_exist():
    for path in list((SPA / "js").glob("*.js")) + list((SPA / "pages").glob("*.js")):
        for spec in re.findall(r"^import .* from '([^']+)';", path.read_text(encoding="utf-8"), re.M):
            assert spec.startswith("."), (path.name, spec)
            assert (path.parent / spec).resolve().is_file(), (path.name, spec)


def test_vendored_files_are_documented_and_budget_kept():
    readme = (SPA / "vendor" / "README.md").read_text(encoding="utf-8")
    for f in (SPA / "vendor").iterdir():
        if f.name != "README.md":
            assert f"`{f.name}`" in readme, f.name
    total = sum(f.stat().st_size for f in SPA.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
    assert total < BUDGET, f"dashboard is {total} bytes"


async def test_relay_serves_files_and_client_routes(relay):
    async with relay.client() as client:
        page = await client.get("/admin/pools")
        assert page.status_code == 200 and "<script type=\"importmap\">" in page.text
        assert page.headers["cache-control"] == "no-cache"
        version = re.search(r'name="app-version" content="([^"]+)"', page.text).group(1)
        script = await client.get(f"/js/main.js?v={version}")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert "immutable" in script.headers["cache-control"]
        api = await client.get("/api/user/no-such-thing")
        assert api.status_code == 404 and api.json()["error"]["type"]


def test_every_message_key_exists_in_both_languages():
    source = (SPA / "js" / "i18n.js").read_text(encoding="utf-8")
    zh_part, en_part = source.split("const en = {", 1)
    key = re.compile(r"'([A-Za-z0-9_.-]+)':")
    zh, en = set(key.findall(zh_part.split("const zh = {", 1)[1])), set(key.findall(en_part.split("export const", 1)[0]))
    assert zh == en, f"only zh: {sorted(zh - en)}; only en: {sorted(en - zh)}"
    used = set()
    for path in list((SPA / "js").glob("*.js")) + list((SPA / "pages").glob("*.js")):
        used |= set(re.findall(r"\bt\('([A-Za-z0-9_.-]+[A-Za-z0-9_])'", path.read_text(encoding="utf-8")))
    used.discard("key")  # the doc comment's example
    assert used <= zh, f"missing: {sorted(used - zh)}"
