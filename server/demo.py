"""``jiuliu serve --demo``: emulator upstreams in-process (two for ``claude``, two for ``codex``),
an operator and a demo user with a balance and one key per group, open recharges, and one real
call through the relay, so a newcomer sees the whole path within a minute. Safe to re-run on
the same data directory: accounts are updated by name, the demo balance is credited once.

The operator's and the demo user's passwords are generated per run and printed in the banner:
a fixed, published password would open the operator console of every demo left running."""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

import aiohttp
import orjson

# The emulator is its own top-level package; only the commands that start it import it.
from emulator import default_accounts, start_emulator
from server.accounts.passwords import PasswordHasher
from server.admin_cli import create_or_promote
from server.pricing.money import format_micro, to_micro
from server.storage.ledger import make_entry

if TYPE_CHECKING:
    from server.runtime import Runtime

log = logging.getLogger(__name__)

ADMIN_EMAIL = "admin@demo.jiuliu"
USER_EMAIL = "demo@demo.jiuliu"
WELCOME_CREDIT = to_micro("100")


async def start_demo(runtime: "Runtime") -> list[str]:
    """Set the demo up and return the lines to print."""
    deps = runtime.deps
    assert deps is not None and runtime.storage is not None
    emulator = await start_emulator(default_accounts(2, 2))
    deps.shutdown_hooks.insert(0, emulator.stop)  # stopped last, after in-flight calls drained
    for account in emulator.state.accounts.values():
        anthropic = account.api_key.startswith("emu-anthropic")
        await _upsert_upstream(deps, account.api_key, emulator.base_url,
                               "claude" if anthropic else "codex", "anthropic" if anthropic else "openai")
    await deps.pools.reload()
    await deps.runtime_settings.update(recharge_mode="open")
    admin_password, user_password = new_password(), new_password()
    # The demo's own operator from an earlier run: promoting it again only resets its password.
    await create_or_promote(runtime.storage, deps.settings, ADMIN_EMAIL, "admin", admin_password,
                            promote_existing=True)
    user = await deps.user_store.get_by_email(USER_EMAIL)
    if user is None:
        user = await deps.users.register("demo", USER_EMAIL, user_password)
    else:
        await deps.user_store.set_password(user["_id"], await PasswordHasher(deps.settings.bcrypt_rounds)
                                           .hash(user_password), int(user.get("token_version") or 0))
    await deps.ledger.post(make_entry(f"rch_demo_welcome_{user['_id']}", user["_id"], WELCOME_CREDIT,
                                      "recharge", ref="demo welcome credit"))
    for key in await deps.keys.list_for_user(user["_id"]):
        if key.get("name", "").startswith("demo-"):
            await deps.keys.delete(user["_id"], key["_id"])
    _, claude_key = await deps.keys.create(user["_id"], name="demo-claude", group="claude", rate_limit=600)
    _, codex_key = await deps.keys.create(user["_id"], name="demo-codex", group="codex", rate_limit=600)
    first_call = await _first_call(runtime.base_url, claude_key)
    base = runtime.base_url
    return [
        "",
        "Demo mode: emulator upstreams at " + emulator.base_url + " (nothing leaves this machine)",
        f"  operator login:  {ADMIN_EMAIL} / {admin_password}  (generated for this run)",
        f"  demo user login: {USER_EMAIL} / {user_password}  "
        f"(balance credited once: {format_micro(WELCOME_CREDIT)} {deps.settings.currency})",
        f"  claude key: {claude_key}",
        f"  codex key:  {codex_key}",
        f"  first call through the relay: {first_call}",
        "",
        "Try it:",
        f"  curl -s {base}/v1/messages -H 'x-api-key: {claude_key}' -H 'anthropic-version: 2023-06-01' \\",
        "    -H 'content-type: application/json' \\",
        "    -d '{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64,"
        "\"messages\":[{\"role\":\"user\",\"content\":\"Hello, Claude!\"}]}'",
        "",
        "Claude Code:",
        f"  export ANTHROPIC_BASE_URL=\"{base}\"",
        f"  export ANTHROPIC_AUTH_TOKEN=\"{claude_key}\"",
        "",
        f"Codex CLI: base_url = \"{base}\" with wire_api = \"responses\" and the codex key "
        "(dashboard → 客户端配置)",
    ]


def new_password() -> str:
    """A fresh random password for this run (about 96 bits)."""
    return secrets.token_urlsafe(12)


async def _upsert_upstream(deps, name: str, base_url: str, group: str, protocol: str) -> None:
    fields = {"name": name, "groups": [group], "protocol": protocol, "base_url": base_url,
              "api_key": name, "notes": "demo emulator account", "enabled": True}
    for doc in await deps.upstreams.list():
        if doc["name"] == name:
            await deps.upstreams.update(doc["_id"], fields)
            await deps.upstreams.set_state(doc["_id"], "healthy")
            return
    await deps.upstreams.create(fields)


async def _first_call(base_url: str, key: str) -> str:
    """One real /v1/messages call, so the banner shows the relay working end to end."""
    body = {"model": "claude-sonnet-4-5", "max_tokens": 32,
            "messages": [{"role": "user", "content": "Hello from the Jiuliu demo"}]}
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(base_url + "/v1/messages", data=orjson.dumps(body),
                                    headers={"x-api-key": key, "content-type": "application/json"}) as resp:
                data = orjson.loads(await resp.read())
        if resp.status != 200:
            return f"HTTP {resp.status}: {data}"
        usage = data.get("usage", {})
        return (f"HTTP 200, {usage.get('input_tokens')} input + {usage.get('output_tokens')} output tokens "
                f"(see it in the dashboard's usage logs)")
    except Exception as exc:  # noqa: BLE001 - the banner reports, start-up goes on
        log.warning("demo call failed: %s", exc)
        return f"failed: {exc}"
