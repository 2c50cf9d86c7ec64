"""The two configurations each client is tried with: the API document's, as written (its blocks
parsed out of ``../shared/spec/api-doc.zh.txt`` with only the host and key filled in), and the
dashboard's, from the very module the setup page renders (``static_spa/js/snippets.js``, run
by Node through ``snippets.mjs``)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from tests.clients.stage import BASE, ROOT

DOC = Path(os.environ.get("JIULIU_API_DOC", ROOT.parent / "shared" / "spec" / "api-doc.zh.txt"))
DOC_HOST = "http://relay.example:3000"


class Files(dict):
    """Configuration files by their path under HOME (``.claude/settings.json`` → text)."""

    def write(self, home: Path) -> None:
        for rel, text in self.items():
            path = home / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)


def _fill(text: str, key: str) -> str:
    return text.replace(DOC_HOST, BASE).replace("sk-你的API Key", key).replace("你的API Key", key)


def _json_after(doc: str, marker: str, key: str) -> str:
    at = doc.index(marker)
    start = doc.index("{", at)
    value, end = json.JSONDecoder().raw_decode(doc, start)
    return _fill(doc[start:end], key)


def document_config(client: str, key: str, form: str = "") -> tuple[Files, dict[str, str]]:
    """The document's files and environment for ``client`` (``form`` picks one of several), as written."""
    doc = DOC.read_text(encoding="utf-8")
    if client == "claude-code" and form == "settings.json":
        return Files({".claude/settings.json": _json_after(doc, "创建/编辑 ~/.claude/settings.json", key)}), {}
    if client == "claude-code":  # its recommended form: the two exports
        env = {}
        for name in ("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"):
            line = next(line for line in doc.splitlines() if line.startswith(f"export {name}="))
            env[name] = _fill(line.split("=", 1)[1].strip().strip('"'), key)
        return Files(), env
    if client == "opencode":
        path = ".config/opencode/opencode.json"
        return Files({path: _json_after(doc, f"编辑 ~/{path}", key)}), {}
    if client == "openclaw":
        return Files({".openclaw/openclaw.json": _json_after(doc, "编辑 ~/.openclaw/openclaw.json", key)}), {}
    if client == "codex":
        start = doc.index("\n", doc.index("编辑 ~/.codex/config.toml")) + 1
        toml = doc[start:doc.index("编辑 ~/.codex/auth.json")].strip() + "\n"
        return Files({".codex/config.toml": _fill(toml, key),
                      ".codex/auth.json": _json_after(doc, "编辑 ~/.codex/auth.json", key)}), {}
    raise KeyError(client)


async def dashboard_snippets(key: str, group: str) -> dict[str, dict]:
    """Every tab of the setup page for this base URL and key: ``{tab id: {"checked", "blocks"}}``."""
    proc = await asyncio.create_subprocess_exec(
        "node", str(Path(__file__).parent / "snippets.mjs"), BASE, key, group,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return {tab["id"]: tab for tab in json.loads(out)}


def dashboard_config(tab: dict) -> Files:
    """The tab's blocks that name a file, written where the client reads them."""
    files = Files()
    for block in tab["blocks"]:
        if block.get("file"):
            files[block["file"].removeprefix("~/")] = block["text"] + "\n"
    return files
