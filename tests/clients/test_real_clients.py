"""The real command-line clients (pinned in versions.json) complete turns through the relay with
the API document's configuration and with the dashboard's, inside a loopback-only network
namespace, and every turn is in the user's log with its tokens and its charge."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from pathlib import Path

import anthropic
import pytest

from tests.clients.cases import CASES, QUIET, REPLY, Case
from tests.clients.configs import dashboard_config, dashboard_snippets, document_config
from tests.clients.conftest import unavailable
from tests.clients.stage import VERSIONS, Stage, node_bin_dir, node_modules

pytestmark = pytest.mark.clients

SETTLE_SECONDS = 20  # usage rows and charges are written every 0.5 s (usage_flush_interval)


async def _settled(stage: Stage, seen: set[str], balance: int, count: int) -> list[dict]:
    """The new log rows once ``count`` of them are written and the balance shows their charges."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        rows = [r for r in await stage.log_rows() if r["id"] not in seen]
        charged = balance - await stage.balance()
        if len(rows) >= count and charged == sum(r["cost"] for r in rows):
            return rows
        if time.monotonic() > deadline:
            pytest.fail(f"after {SETTLE_SECONDS} s: {len(rows)} new log rows (want {count}), "
                        f"balance down {charged}, rows cost {sum(r['cost'] for r in rows)}: {rows}")
        await asyncio.sleep(0.2)  # polling the relay's API for its periodic flush


def _tool_turns(output: str) -> dict:
    """Claude Code's stream-json: the Bash call ran our echo; the final usage over all turns."""
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    calls = [b for e in events if e.get("type") == "assistant" for b in e["message"]["content"]
             if b.get("type") == "tool_use"]
    results = [b for e in events if e.get("type") == "user" for b in e["message"]["content"]
               if isinstance(b, dict) and b.get("type") == "tool_result"]
    assert [c["name"] for c in calls] == ["Bash"] and calls[0]["input"]["command"].startswith("echo "), calls
    assert len(results) == 1 and not results[0].get("is_error"), results
    assert "jiuliu-emulator-tool-call" in json.dumps(results[0]["content"])
    final = next(e for e in events if e.get("type") == "result")
    assert final["subtype"] == "success" and final["num_turns"] >= 2, final
    return final["usage"]


SNIPPET_RUNNERS = {"bash": ("snippet.sh", lambda: "bash"), "python": ("snippet.py", lambda: sys.executable),
                   "node": ("snippet.mjs", lambda: str(node_bin_dir() / "node"))}


async def _prepare(stage: Stage, case: Case, home: Path) -> tuple[list[str], dict[str, str]]:
    """Write the case's configuration into ``home``; the command line and environment to run."""
    key = stage.keys[case.group]
    if case.config == "document":
        files, env = document_config(case.client, key, case.form)
        files.write(home)
        return case.argv(), env
    tab = (await dashboard_snippets(key, case.group))[case.tab]
    if case.snippet:  # the tab's code as shown, in a file run by its interpreter
        name, interpreter = SNIPPET_RUNNERS[case.snippet]
        path = home / "work" / name
        path.parent.mkdir(parents=True)
        path.write_text(tab["blocks"][0]["text"] + "\n")
        if case.snippet == "node":  # `import Anthropic from '@anthropic-ai/sdk'` resolves here
            (path.parent / "node_modules").symlink_to(node_modules(case.client))
        return [interpreter(), str(path)], {}
    files = dashboard_config(tab)
    assert files, f"the {case.tab} tab names no configuration file"
    files.write(home)
    return case.argv(), {}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_client_turn_through_the_relay(stage: Stage, case: Case, tmp_path):
    home = tmp_path / "home"
    argv, env = await _prepare(stage, case, home)
    seen = {r["id"] for r in await stage.log_rows()}
    balance, relayed = await stage.balance(), await stage.relayed_requests()

    run = await stage.run(argv, home, {**QUIET.get(case.client, {}), **env, **case.extra_env})

    if case.refused_by_client:
        # The client rejects its own configuration before any request: the relay is not the cause.
        assert case.refused_by_client in run.output and REPLY not in run.output, run.describe()
        assert await stage.relayed_requests() == relayed
        assert not [r for r in await stage.log_rows() if r["id"] not in seen]
        assert await stage.balance() == balance
        return
    assert run.returncode == 0 and REPLY in run.output, run.describe()
    assert case.expect_output in run.output, run.describe()
    assert case.rows is not None
    rows = await _settled(stage, seen, balance, case.rows.count)
    assert len(rows) == case.rows.count, rows  # one row per upstream call, none twice
    for row in rows:
        tokens = row["tokens"]
        assert row["status"] == 200 and row["outcome"] == "ok", row
        assert row["endpoint"] in case.rows.endpoints and row["model"] in case.rows.models, row
        assert row["key_name"] == f"demo-{case.group}", row
        read = tokens["input"] + tokens["cache_write_5m"] + tokens["cache_write_1h"] + tokens["cache_read"]
        assert read > 0, row
        assert tokens["output"] > 0 and row["cost"] > 0, row
    if case.tool:
        usage = _tool_turns(run.output)  # both turns, the tool result's included, are billed as reported
        assert sum(r["tokens"]["output"] for r in rows) == usage["output_tokens"]
        assert sum(r["tokens"]["cache_read"] for r in rows) == usage["cache_read_input_tokens"]
        assert sum(r["tokens"]["cache_write_5m"] + r["tokens"]["cache_write_1h"] for r in rows) \
            == usage["cache_creation_input_tokens"]
        assert sum(r["tokens"]["input"] for r in rows) == usage["input_tokens"]


async def test_every_tab_names_the_version_the_suite_checks():
    if shutil.which("node") is None:
        unavailable("node is not installed (Debian: apt-get install nodejs)")
    tabs = await dashboard_snippets("sk-test", "claude")
    assert all(tab["checked"] for tab in tabs.values()), tabs
    for tab, pin in {"claude-code": "claude-code", "vscode": "claude-code", "opencode": "opencode",
                     "openclaw": "openclaw", "codex": "codex"}.items():
        assert VERSIONS[pin]["version"] in tabs[tab]["checked"], (tab, tabs[tab]["checked"])
    node = VERSIONS["node"]["version"].rsplit(".", 1)[0]
    assert f"Node {node}" in tabs["openclaw"]["checked"]
    assert VERSIONS["anthropic-sdk"]["version"] in tabs["node"]["checked"]
    # the Python tab is run with the test environment's SDK: same major version as the tab names
    assert f"anthropic (Python) {anthropic.__version__.split('.')[0]}." in tabs["python"]["checked"]
