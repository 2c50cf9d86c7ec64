"""The dashboard end to end, in headless Chromium against a real relay and emulator upstream.

The tests share the module's relay and emulator only: each sets up the people, balances, keys
and prices it needs through fixtures (a user's own browser context, an operator of its own) and
undoes what it changes for everyone (price rules, the recharge mode), so they pass in any order
(``JIULIU_TEST_ORDER=reverse`` or ``random`` runs them so; CI keeps the file's order):
1. a new user registers, creates a Codex-group key (the full key shown once), reads the Codex CLI
   configuration from the client setup page and files a recharge request;
2. an operator logs in, adds an upstream account and sees its health, tests it, approves a
   user's recharge and overrides the catalogue price of gpt-5.4 with an operator rule;
3. a call is made through the relay with the user's key; it appears in the usage log with its
   cost breakdown at the operator's prices, and the balance dropped by exactly its charge;
4. screenshots of every main page at desktop and phone width, each checked for its title, its
   content, no horizontal overflow and (overviews) a chart of a sane size.
No page may log a console error."""

from __future__ import annotations

import json
import re
import secrets
import struct
import time
import tomllib
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from server.admin.prices import CATALOGUE_ID
from tests.browser.conftest import DESKTOP, SCREENSHOTS, screenshot_pages
from tests.relay.support import add_upstreams

pytestmark = pytest.mark.browser

FIXTURE_ADMIN = "usr_fixture"  # who the audit log names for fixtures' own operator writes


def person(role: str) -> dict:
    """Fresh credentials: every test has people of its own."""
    tag = secrets.token_hex(3)
    return {"username": f"{role}_{tag}", "email": f"{role}.{tag}@example.test", "password": f"{role} pass {tag}"}


def amount(text: str) -> Decimal:
    """A displayed money amount ("$1,234.5678", "-$0.25") as a Decimal."""
    cleaned = re.sub(r"[^\d.\-]", "", text)
    return Decimal(cleaned)


async def new_page(browser, console, **context_args):
    context = await browser.new_context(viewport=DESKTOP, **{"locale": "zh-CN", **context_args})
    page = await context.new_page()
    console.watch(page)
    return context, page


async def login(page, base_url: str, who: dict) -> None:
    await page.goto(base_url + "/login")
    await page.fill("input[name=email]", who["email"])
    await page.fill("input[name=password]", who["password"])
    await page.click("form button[type=submit]")
    await page.wait_for_url("**/overview")
    await page.wait_for_selector("main .page")


async def register(dashboard, who: dict, role: str = "user") -> str:
    registered = await dashboard.deps.users.register(who["username"], who["email"], who["password"])
    user_id = registered.get("_id") or registered["id"]
    if role == "admin":
        await dashboard.deps.storage.db.users.update_one({"_id": user_id}, {"$set": {"role": "admin"}})
    return user_id


@pytest.fixture
async def open_page(browser, console):
    """Opens pages in browser contexts of the test's own (watched for console errors), closed after it."""
    contexts = []

    async def open_(**context_args):
        context, page = await new_page(browser, console, **context_args)
        contexts.append(context)
        return page
    yield open_
    for context in contexts:
        await context.close()


@pytest.fixture
async def operator(dashboard) -> dict:
    """An operator account of the test's own, not logged in."""
    who = person("operator")
    return {**who, "id": await register(dashboard, who, "admin")}


@pytest.fixture
async def customer(dashboard) -> dict:
    """A user with $100 from an approved recharge and a Codex-group key (``secret``)."""
    who = person("user")
    user_id = await register(dashboard, who)
    order, _ = await dashboard.deps.recharge.request(user_id, amount=100_000_000, description="fixture credit")
    await dashboard.deps.recharge.approve(order["_id"], FIXTURE_ADMIN)
    _, secret = await dashboard.deps.keys.create(user_id, name="codex-laptop", group="codex")
    return {**who, "id": user_id, "secret": secret}


@pytest.fixture
async def user_page(open_page, dashboard, customer):
    page = await open_page()
    await login(page, dashboard.base_url, customer)
    return page


@pytest.fixture
async def admin_page(open_page, dashboard, operator):
    page = await open_page()
    await login(page, dashboard.base_url, operator)
    return page


@pytest.fixture
async def price_rules_restored(dashboard):
    """Operator price rules made during the test are deleted after it."""
    before = {doc["_id"] for doc in await dashboard.deps.prices.list_docs()}
    yield
    for doc in await dashboard.deps.prices.list_docs():
        if doc["_id"] not in before:
            await dashboard.deps.admin.prices.delete(FIXTURE_ADMIN, doc["_id"])


@pytest.fixture
async def gpt54_at_2_and_8(dashboard, price_rules_restored):
    """gpt-5.4's catalogue price overridden by an operator rule: $2 input, $8 output per MTok."""
    await dashboard.deps.admin.prices.update(FIXTURE_ADMIN, CATALOGUE_ID + "gpt-5.4", {"input": "2", "output": "8"})


@pytest.fixture
async def recharge_mode_restored(dashboard):
    yield
    await dashboard.deps.runtime_settings.update(recharge_mode="manual")


@pytest.fixture
async def pending_recharge(dashboard) -> str:
    """Another user's pending $100 recharge request; its description."""
    who = person("payer")
    description = f"browser test {secrets.token_hex(3)}"
    await dashboard.deps.recharge.request(await register(dashboard, who), amount=100_000_000,
                                          description=description)
    return description


async def test_user_registers_creates_codex_key_and_reads_config(open_page, dashboard, console):
    base = dashboard.base_url
    who = person("user")
    page = await open_page(permissions=["clipboard-read", "clipboard-write"])

    # Register (the form logs in and lands on the keys page).
    await page.goto(base + "/register")
    await page.fill("input[name=username]", who["username"])
    await page.fill("input[name=email]", who["email"])
    await page.fill("input[name=password]", who["password"])
    await page.fill("input[name=password2]", who["password"])
    await page.click("form button[type=submit]")
    await page.wait_for_url("**/keys")
    await page.wait_for_selector("main .page")
    assert await page.locator(".user-name").inner_text() == who["username"]

    # Create a key in the Codex group; the hint about the Codex group is on the form.
    await page.click("#create-key")
    dialog = page.locator("dialog.modal")
    await dialog.locator("input[name=name]").fill("codex-laptop")
    await dialog.locator("select[name=group]").select_option("codex")
    assert "codex" in (await dialog.inner_text()).lower()
    await dialog.locator("button[type=submit]").click()
    secret_el = page.locator("#new-key-secret")
    await secret_el.wait_for()
    secret = (await secret_el.inner_text()).strip()
    assert secret.startswith("sk-") and len(secret) > 20

    # The copy button puts the full key on the clipboard.
    await page.locator("dialog.modal .secret-row .copy-btn").click()
    assert await page.evaluate("navigator.clipboard.readText()") == secret

    # Client setup for the just-created key: the Codex CLI tab is selected for a codex key.
    await page.locator("dialog.modal a", has_text="配置客户端").click()
    await page.wait_for_url("**/setup/key_*")
    await page.wait_for_selector("#base-url")
    assert await page.locator("#base-url").inner_text() == base
    assert await page.locator(".tab[aria-selected=true]").inner_text() == "Codex CLI"
    config_block = page.locator(".code-block", has=page.locator(".code-title", has_text="~/.codex/config.toml"))
    config_text = await config_block.locator("pre").inner_text()
    config = tomllib.loads(config_text)
    assert config["model_provider"] == "OpenAI"
    assert config["model"] == "gpt-5.4"
    assert {"review_model", "model_reasoning_effort", "model_context_window",
            "model_auto_compact_token_limit"} <= set(config)
    assert "disable_response_storage" not in config and "network_access" not in config
    provider = config["model_providers"]["OpenAI"]
    assert provider == {"name": "OpenAI", "base_url": base, "wire_api": "responses", "requires_openai_auth": True}
    auth_block = page.locator(".code-block", has=page.locator(".code-title", has_text="~/.codex/auth.json"))
    assert '"OPENAI_API_KEY": "%s"' % secret in await auth_block.locator("pre").inner_text()
    await config_block.locator(".copy-btn").click()
    assert (await page.evaluate("navigator.clipboard.readText()")).strip() == config_text.strip()

    # The Claude Code tab has the shell exports and settings.json with the same key.
    await page.locator(".tab", has_text="Claude Code").click()
    panel = await page.locator(".tab-panel").inner_text()
    assert f'export ANTHROPIC_BASE_URL="{base}"' in panel and f'export ANTHROPIC_AUTH_TOKEN="{secret}"' in panel
    assert "setup.needClaude" not in panel and "codex" in panel.lower()  # warns this key is Codex-only
    assert "Claude Code 2.1.332" in panel  # each tab names the client version it was checked with

    # OpenClaw: the provider under models.providers, Node >= 24.16, and the doctor --fix warning.
    await page.locator(".tab", has_text="OpenClaw").click()
    panel = await page.locator(".tab-panel").inner_text()
    claw_block = page.locator(".code-block", has=page.locator(".code-title", has_text="~/.openclaw/openclaw.json"))
    claw = json.loads(await claw_block.locator("pre").inner_text())
    assert "providers" not in claw and claw["models"]["providers"]["proxy"]["baseUrl"] == base
    assert "OpenClaw 2026.9.6" in panel and "24.16" in panel and "openclaw gateway restart" in panel
    assert "openclaw gateway run" in panel and "doctor --fix" in panel

    # VS Code: ~/.claude/settings.json and claudeCode.environmentVariables, not claude-code.env.
    await page.locator(".tab", has_text="VS Code").click()
    panel = await page.locator(".tab-panel").inner_text()
    vscode_block = page.locator(".code-block", has=page.locator(".code-title", has_text="VS Code settings.json"))
    vscode_settings = json.loads(await vscode_block.locator("pre").inner_text())
    assert vscode_settings == {"claudeCode.environmentVariables": [
        {"name": "ANTHROPIC_BASE_URL", "value": base}, {"name": "ANTHROPIC_AUTH_TOKEN", "value": secret}]}
    assert "~/.claude/settings.json" in panel and "Claude Code 2.1.332" in panel

    # The key is listed with its prefix, group and status.
    await page.goto(base + "/keys")
    row = page.locator("table.data tbody tr", has_text="codex-laptop")
    await row.wait_for()
    row_text = await row.inner_text()
    assert "codex" in row_text and "正常" in row_text and secret[:6] in row_text

    # A recharge request (the default mode is approval by an operator): only the order form.
    await page.goto(base + "/recharge")
    await page.wait_for_selector("main .page")
    assert await page.locator("input[name=code]").count() == 0
    await page.fill("input[name=amount]", "100")
    await page.fill("input[name=description]", "browser test")
    await page.locator("form", has=page.locator("input[name=amount]")).locator("button[type=submit]").click()
    await page.wait_for_selector(".alert-info >> text=等待管理员审核")
    await page.wait_for_selector("table.data tbody tr >> text=待审核")
    console.assert_clean()


async def test_operator_adds_upstream_approves_recharge_edits_price(open_page, dashboard, emu, console, operator,
                                                                    pending_recharge, price_rules_restored):
    base = dashboard.base_url
    page = await open_page()
    # A wrong password: the API's own message is shown next to the form.
    await page.goto(base + "/login")
    await page.fill("input[name=email]", operator["email"])
    await page.fill("input[name=password]", "not the password")
    await page.click("form button[type=submit]")
    alert = page.locator(".auth-form .alert-error")
    await alert.wait_for()
    assert "邮箱或密码错误" in await alert.inner_text()
    console.forget_http_errors(401)
    await login(page, base, operator)
    assert await page.locator("a.nav-link[href='/admin/pools']").count() == 1

    # An account cooling down after errors shows its reason and a countdown.
    [cooling] = await add_upstreams(dashboard.deps, emu, ["a2"], "claude", "anthropic", name=f"a2-{operator['id'][-6:]}")
    await dashboard.deps.upstreams.set_state(cooling["_id"], "cooling", "upstream 529: overloaded",
                                             time.time() + 300)
    await dashboard.deps.pools.reload()
    # An account unusable by its own configuration (stored before validation) is taken out on its
    # first use with the reason shown; its proxy's password never is.
    [broken] = await add_upstreams(dashboard.deps, emu, ["a3"], "claude", "anthropic",
                                   base_url="http://127.0.0.1:99999", proxy="http://ops:hunter2pw@127.0.0.1:3128")
    assert not (await dashboard.deps.pools.probe(broken["_id"], dashboard.deps.upstream_client))["ok"]

    # Add an upstream account; its key field is write-only.
    await page.goto(base + "/admin/pools")
    cooling_card = page.locator("article.pool-card", has_text=cooling["name"])
    await cooling_card.wait_for()
    broken_text = await page.locator("article.pool-card", has_text="a3").inner_text()
    assert "端口必须在 1–65535 之间" in broken_text and "ops:***@127.0.0.1:3128" in broken_text
    assert "hunter2pw" not in await page.content()
    assert await cooling_card.locator(".health-dot.dot-cooling").count() == 1
    cooling_text = await cooling_card.inner_text()
    assert "upstream 529: overloaded" in cooling_text and re.search(r"冷却剩余 [45]m \d\ds", cooling_text)
    await page.wait_for_selector("main .page")
    await page.click("#add-upstream")
    dialog = page.locator("dialog.modal")
    ui_name = f"ui-claude-{operator['id'][-6:]}"
    await dialog.locator("input[name=name]").fill(ui_name)
    await dialog.locator("select[name=protocol]").select_option("anthropic")
    await dialog.locator("input[name=base_url]").fill(emu.base_url)
    await dialog.locator("input[name=api_key]").fill("emu-key-a1")
    assert await dialog.locator("input[name=api_key]").get_attribute("type") == "password"
    assert await dialog.locator("input[name=groups][value=claude]").is_checked()
    await dialog.locator("button[type=submit]").click()
    card = page.locator("article.pool-card", has_text=ui_name)
    await card.wait_for()
    assert await card.locator(".health-dot.dot-healthy").count() == 1
    assert "健康" in await card.inner_text()
    assert "emu-key-a1" not in await card.inner_text()  # only the masked suffix is shown
    await card.locator("button", has_text="立即测试").click()
    await page.wait_for_selector(".toast >> text=测试通过")

    # Approve a user's pending recharge: it leaves the list of pending ones.
    await page.goto(base + "/admin/recharges")
    row = page.locator("table.data tbody tr", has_text=pending_recharge)
    await row.wait_for()
    assert "$100.00" in await row.inner_text()
    await row.locator("button", has_text="批准").click()
    await page.wait_for_selector(".toast >> text=已批准并入账")
    await row.wait_for(state="detached")

    # The catalogue in force, then override gpt-5.4's catalogue price with an operator rule.
    await page.goto(base + "/admin/prices")
    await page.wait_for_selector("#price-catalogue >> text=genai-prices 0.2.5")
    await page.click("#served-models summary")  # the models the pools offer and what prices each
    await page.wait_for_selector("#served-models tr:has(code:text-is('gpt-5.4')):has-text('$2.50 / $15.00')")
    await page.fill("#price-filter", "gpt-5.4")
    await page.wait_for_function("!document.querySelector('#price-rules tbody').innerText.includes('claude-')")
    row = page.locator("#price-rules tbody tr", has=page.locator("code", has_text=re.compile(r"^gpt-5\.4$")))
    await row.first.wait_for()
    assert await row.count() == 1 and "$2.50" in await row.inner_text()
    await row.locator("button", has_text="编辑").click()
    dialog = page.locator("dialog.modal")
    await dialog.locator("input[name=input]").fill("2")
    await dialog.locator("input[name=output]").fill("8")
    await dialog.locator("button[type=submit]").click()
    await page.wait_for_selector(".toast >> text=已保存")
    operator = page.locator("#price-rules tbody tr", has=page.locator("code", has_text=re.compile(r"^gpt-5\.4$")),
                            has_text="运营者")
    await operator.wait_for()
    assert "$2.00" in await operator.inner_text() and "$8.00" in await operator.inner_text()
    assert "$0.20" in await operator.inner_text()  # cached input follows at gpt-5.4's own 0.1×
    await page.wait_for_selector("#price-rules >> text=被规则 gpt-5.4 覆盖")
    console.assert_clean()


async def test_call_appears_in_logs_with_breakdown_and_exact_charge(dashboard, console, user_page, customer,
                                                                   gpt54_at_2_and_8):
    base = dashboard.base_url
    page = user_page

    # The overview's daily charts come from /api/user/stats alone (no summing of the log).
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    await page.goto(base + "/overview")
    await page.wait_for_selector("main .page")
    await page.wait_for_selector(".chart .uplot")
    assert any("/api/user/stats" in url for url in requested)
    assert not any("/api/user/logs" in url for url in requested), requested
    before = amount(await page.locator("#top-balance").inner_text())
    assert before == Decimal("100")

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        response = await client.post("/v1/responses", headers={"Authorization": f"Bearer {customer['secret']}"},
                                     json={"model": "gpt-5.4", "input": "Hello from the dashboard test"})
    assert response.status_code == 200, response.text

    # The usage row is written by the recorder shortly after the response.
    row = page.locator("table.data tbody tr", has_text="gpt-5.4")
    for _ in range(50):
        await page.goto(base + "/logs")
        await page.wait_for_selector("main .page")
        if await row.count():
            break
        await page.wait_for_timeout(100)
    assert await row.count() == 1
    await row.locator("button.expand-btn").click()
    detail = page.locator("tr.detail-row:not([hidden]) .breakdown")
    await detail.wait_for()
    lines = {}
    for tr in await detail.locator("tbody tr").all():
        cells = [c.strip() for c in await tr.locator("td").all_inner_texts()]
        lines[cells[0]] = cells
    assert lines["输入"][2] == "$2.00" and lines["输出"][2] == "$8.00"
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "user-logs-breakdown-desktop.png"), full_page=True)
    charged = amount(await detail.locator(".breakdown-total").inner_text())
    exact = sum(Decimal(re.sub(r"[^\d]", "", cells[1])) * amount(cells[2].split("×")[0]) for cells in lines.values()) \
        / Decimal(1_000_000)
    assert charged > 0
    assert abs(charged - exact) <= Decimal("0.000001")

    # CSV export of the fetched log.
    async with page.expect_download() as info:
        await page.click("#export-csv")
    download = await info.value
    csv_text = Path(await download.path()).read_text(encoding="utf-8-sig")
    assert "gpt-5.4" in csv_text and csv_text.splitlines()[0].startswith("time,request_id")

    # The balance dropped by exactly the charge (shown to the micro-unit).
    await page.goto(base + "/transactions")
    await page.wait_for_selector("table.data tbody tr >> text=API 调用扣费")
    await page.goto(base + "/overview")
    await page.wait_for_selector("main .page")
    after = amount(await page.locator("#top-balance").inner_text())
    assert before - after == charged

    # And the same numbers through the API, in micro-units.
    token = await page.evaluate("localStorage.getItem('jiuliu.token')")
    async with httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as api:
        me = (await api.get("/api/user/me")).json()
        logs = (await api.get("/api/user/logs")).json()["data"]
    assert me["balance"] == 100_000_000 - logs[0]["cost"]
    assert Decimal(logs[0]["cost_display"]) == charged
    console.assert_clean()


async def test_a_cut_stream_is_shown_as_estimated_with_its_tier(dashboard, emu, console, user_page, customer):
    """Issue 12: a Responses stream cut after content (no response.completed) is billed on an
    estimate; the log marks the row, its detail says how, shows the service tier and web
    searches, and the CSV export carries the same columns."""
    base = dashboard.base_url
    page = user_page
    emu.state.patch("o1", {"fault": "eof", "cut_after": 3, "output_tokens": 40,
                           "service_tier": "priority", "web_searches": 1})
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            response = await client.post("/v1/responses", headers={"Authorization": f"Bearer {customer['secret']}"},
                                         json={"model": "gpt-5.4", "input": "cut me short", "stream": True})
        assert response.status_code == 200 and b"response.completed" not in response.content
        request_id = response.headers["x-jiuliu-request-id"]
        await dashboard.usage.wait_recorded(request_id)
        await dashboard.deps.recorder.flush()
    finally:
        emu.state.reset(knobs=True)
        for account in await dashboard.deps.upstreams.list():
            await dashboard.deps.upstreams.set_state(account["_id"], "healthy")
        await dashboard.deps.pools.reload()

    await page.goto(base + "/logs")
    await page.wait_for_selector("main .page")
    rows = page.locator("table.data tbody tr:not(.detail-row)")
    await rows.first.wait_for()
    cut_row = rows.first  # newest first
    assert await cut_row.locator(".badge.estimated").inner_text() == "估算"
    await cut_row.locator("button.expand-btn").click()
    detail = page.locator("tr.detail-row:not([hidden]) .breakdown")
    await detail.wait_for()
    note = await detail.locator(".estimate-note").inner_text()
    assert "输入按请求体估算" in note and "推理 Token 不计费" in note
    text = await detail.inner_text()
    assert "服务等级" in text and "priority" in text and "联网搜索次数" in text
    await page.screenshot(path=str(SCREENSHOTS / "user-logs-estimated-desktop.png"), full_page=True)

    async with page.expect_download() as info:
        await page.click("#export-csv")
    csv_lines = Path(await (await info.value).path()).read_text(encoding="utf-8-sig").splitlines()
    assert csv_lines[0].endswith(",estimated,estimate_method,service_tier,web_search_requests,speed")
    cut_line = next(line for line in csv_lines if request_id in line)
    assert cut_line.endswith(",true,request_body+streamed,priority,1,")
    console.assert_clean()


async def test_operator_adjusts_balance_sells_codes_user_redeems(dashboard, console, admin_page, user_page, customer,
                                                                recharge_mode_restored):
    base = dashboard.base_url
    admin, user = admin_page, user_page

    # A balance adjustment with a reason.
    await admin.goto(base + "/admin/users")
    row = admin.locator("table.data tbody tr", has_text=customer["username"])
    await row.wait_for()
    await row.locator("button", has_text="调整余额").click()
    dialog = admin.locator("dialog.modal")
    await dialog.locator("input[name=amount]").fill("5")
    await dialog.locator("input[name=reason]").fill("goodwill")
    await dialog.locator("button[type=submit]").click()
    await admin.wait_for_selector(".toast >> text=已调整")

    # Switch recharges to redeem codes, and make two codes.
    await admin.goto(base + "/admin/settings")
    await admin.wait_for_selector("main .page")
    await admin.select_option("select[name=recharge_mode]", "code")
    await admin.locator("main form button[type=submit]").click()
    await admin.wait_for_selector(".toast >> text=已保存")
    await admin.goto(base + "/admin/codes")
    await admin.wait_for_selector("main .page")
    await admin.fill("input[name=amount]", "3")
    await admin.fill("input[name=count]", "2")
    await admin.locator("main form button[type=submit]").click()
    codes_text = await admin.locator("dialog.modal pre").inner_text()
    codes = codes_text.split()
    assert len(codes) == 2 and all(re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){3}", c) for c in codes)
    await admin.keyboard.press("Escape")
    await admin.wait_for_selector("table.data tbody tr >> text=%s" % codes[0])

    # The user redeems one (the page now offers the code form only).
    await user.goto(base + "/recharge")
    await user.wait_for_selector("main .page")
    assert await user.locator("input[name=amount]").count() == 0
    await user.fill("input[name=code]", codes[0].lower())
    await user.locator("form", has=user.locator("input[name=code]")).locator("button[type=submit]").click()
    await user.wait_for_selector(".alert-success >> text=充值成功")
    await user.goto(base + "/transactions")
    await user.wait_for_selector("table.data tbody tr >> text=兑换码充值")
    text = await user.locator("table.data").inner_text()
    assert "余额调整" in text and "+$5.00" in text and "+$3.00" in text

    # In open mode the page asks for an amount only and credits it at once.
    await dashboard.deps.runtime_settings.update(recharge_mode="open")
    await user.goto(base + "/recharge")
    await user.wait_for_selector("main .page")
    assert await user.locator("input[name=code]").count() == 0
    assert await user.locator("input[name=description]").count() == 0
    await user.fill("input[name=amount]", "2")
    await user.locator("form", has=user.locator("input[name=amount]")).locator("button[type=submit]").click()
    await user.wait_for_selector(".alert-success >> text=充值成功")
    await dashboard.deps.runtime_settings.update(recharge_mode="manual")

    # Every operator write is in the audit log.
    await admin.goto(base + "/admin/audit")
    await admin.wait_for_selector("table.data tbody tr >> text=user.adjust")
    audit = await admin.locator("table.data").inner_text()
    for action in ("user.adjust", "settings.update", "codes.create"):
        assert action in audit
    console.assert_clean()


async def test_language_switch_and_session_renewal(dashboard, console, user_page, customer):
    base = dashboard.base_url
    page = user_page
    await page.goto(base + "/keys")
    await page.wait_for_selector("main .page")
    await page.locator(".topbar button", has_text="English").click()
    await page.wait_for_selector("a.nav-link >> text=API keys")
    assert await page.evaluate("document.documentElement.lang") == "en"
    old = await page.evaluate("localStorage.getItem('jiuliu.token')")
    await page.wait_for_timeout(1100)  # a new token differs by its issue time (whole seconds)
    await page.evaluate("import('/js/api.js').then((m) => m.renew())")
    await page.wait_for_function("(old) => localStorage.getItem('jiuliu.token') !== old", arg=old)
    await page.locator(".topbar button", has_text="中文").click()
    await page.wait_for_selector("a.nav-link >> text=API 密钥")

    # Password change from the account dialog: a wrong current password is refused in the
    # API's words next to the field; the right one replaces the session token.
    await page.locator(".topbar .user-name").click()
    dialog = page.locator("dialog.modal")
    await dialog.locator("input[name=old_password]").fill("wrong password")
    await dialog.locator("input[name=new_password]").fill("a brand new pass 42")
    await dialog.locator("button[type=submit]").click()
    await dialog.locator("#" + await dialog.locator("input[name=old_password]").get_attribute("id") + "-err").wait_for()
    assert "原密码不正确" in await dialog.inner_text()
    console.forget_http_errors(400)
    await dialog.locator("input[name=old_password]").fill(customer["password"])
    before = await page.evaluate("localStorage.getItem('jiuliu.token')")
    await dialog.locator("button[type=submit]").click()
    await page.wait_for_selector(".toast >> text=密码已修改")
    assert await page.evaluate("localStorage.getItem('jiuliu.token')") != before
    await page.goto(base + "/keys")
    await page.wait_for_selector("main .page")
    console.assert_clean()


async def test_api_errors_come_in_the_dashboards_language(open_page, dashboard, console, operator):
    """The dashboard asks the API for the language the user chose, else the browser's own."""
    base = dashboard.base_url

    async def wrong_password(page) -> str:
        await page.fill("input[name=email]", operator["email"])
        await page.fill("input[name=password]", "not the password")
        await page.click("form button[type=submit]")
        alert = page.locator(".auth-form .alert-error")
        await alert.wait_for()
        text = await alert.inner_text()
        await page.evaluate("document.querySelector('.auth-form .alert-error').remove()")
        return text

    page = await open_page()  # a Chinese browser: Chinese until the user picks English
    await page.goto(base + "/login")
    assert "邮箱或密码错误" in await wrong_password(page)
    await page.locator(".auth-lang button", has_text="English").click()
    await page.wait_for_selector(".auth-lang button >> text=中文")
    assert "Wrong email or password" in await wrong_password(page)

    english = await open_page(locale="en-US")  # no choice made: the browser's language
    await english.goto(base + "/login")
    await english.wait_for_selector(".auth-lang button >> text=中文")
    assert "Wrong email or password" in await wrong_password(english)
    await english.locator(".auth-lang button", has_text="中文").click()  # the user's choice wins
    await english.wait_for_selector(".auth-lang button >> text=English")
    assert "邮箱或密码错误" in await wrong_password(english)
    console.forget_http_errors(401)
    console.assert_clean()


# The title each page shows (i18n.js's nav.* labels), zh and en: a page that fails to render
# or routes to the wrong view shows another or none.
TITLES = {
    "/overview": ("概览", "Overview"), "/keys": ("API 密钥", "API keys"), "/setup": ("客户端配置", "Client setup"),
    "/logs": ("使用记录", "Usage logs"), "/transactions": ("交易记录", "Transactions"), "/recharge": ("充值", "Recharge"),
    "/pricing": ("模型定价", "Pricing"), "/admin/overview": ("系统概览", "System overview"),
    "/admin/pools": ("上游账号池", "Upstream pools"), "/admin/users": ("用户管理", "Users"),
    "/admin/recharges": ("充值审核", "Recharge approvals"), "/admin/codes": ("兑换码", "Redeem codes"),
    "/admin/prices": ("价格管理", "Prices"), "/admin/error-rules": ("错误规则", "Error rules"),
    "/admin/settings": ("系统设置", "Settings"), "/admin/audit": ("审计日志", "Audit log"),
}
CHART_PAGES = {"/overview", "/admin/overview"}
# Pages that must list the customer's one call.
ROW_PAGES = {"/logs": "gpt-5.4", "/transactions": "API 调用扣费", "/admin/users": None}


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def page_check(lang: str, customer: dict):
    index = 0 if lang == "zh" else 1

    async def check(page, path: str, viewport: dict, shot: Path) -> None:
        title = (await page.locator("#page-title").inner_text()).strip()
        assert title == TITLES[path][index], f"{path}: title {title!r}"
        assert await page.locator("a.nav-link[aria-current=page]").count() == 1, f"{path}: no current nav link"
        content = await page.locator("main .page").bounding_box()
        assert content is not None and content["height"] >= 80, f"{path}: the page is (nearly) empty"
        width, height = png_size(shot)
        assert width == viewport["width"], f"{path}: {width} px wide at a {viewport['width']} px viewport (overflow)"
        assert viewport["height"] <= height <= 60_000, f"{path}: {height} px tall"  # the phone price list: ~29k
        charts = page.locator(".chart .uplot")
        if path in CHART_PAGES:
            assert await charts.count() >= 1, f"{path}: no chart"
        for chart in await charts.all():
            box = await chart.bounding_box()
            assert box is not None and 200 <= box["width"] <= viewport["width"], f"{path}: chart width {box}"
            assert 100 <= box["height"] <= 500, f"{path}: chart height {box}"
            canvas = await chart.locator("canvas").first.bounding_box()
            assert canvas is not None and canvas["width"] > 100 and canvas["height"] > 50, f"{path}: canvas {canvas}"
        if path in ROW_PAGES:
            expected = ROW_PAGES[path] or customer["username"]
            rows = page.locator("table.data tbody tr", has_text=expected)
            assert await rows.count() >= 1, f"{path}: no row with {expected!r}"
    return check


async def test_screenshots_of_main_pages(dashboard, console, user_page, admin_page, customer):
    base = dashboard.base_url
    # One call, so the charts, the log and the transactions have something to show.
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        response = await client.post("/v1/responses", headers={"Authorization": f"Bearer {customer['secret']}"},
                                     json={"model": "gpt-5.4", "input": "Hello for the screenshots"})
    assert response.status_code == 200, response.text
    await dashboard.usage.wait_recorded(response.headers["x-jiuliu-request-id"])
    await dashboard.deps.recorder.flush()
    zh, en = page_check("zh", customer), page_check("en", customer)
    shots = await screenshot_pages(user_page, base, ["/overview", "/keys", "/setup", "/logs", "/transactions",
                                                    "/recharge", "/pricing"], "user-", zh)
    shots += await screenshot_pages(admin_page, base, ["/admin/overview", "/admin/pools", "/admin/users",
                                                      "/admin/recharges", "/admin/codes", "/admin/prices",
                                                      "/admin/error-rules", "/admin/settings", "/admin/audit"], "", zh)
    # English, at both widths, for a few pages.
    await user_page.locator(".topbar button", has_text="English").click()
    await user_page.wait_for_selector("a.nav-link >> text=API keys")
    shots += await screenshot_pages(user_page, base, ["/overview", "/logs", "/setup"], "en-user-", en)
    await user_page.locator(".topbar button", has_text="中文").click()
    await user_page.wait_for_selector("a.nav-link >> text=API 密钥")
    assert len(shots) == 2 * (7 + 9 + 3) and all(p.stat().st_size > 5000 for p in shots)
    # Logging out ends the session on the relay, clears it here and returns to the login page.
    token = await user_page.evaluate("localStorage.getItem('jiuliu.token')")
    await user_page.locator(".topbar button", has_text="退出").click()
    await user_page.wait_for_url("**/login")
    assert await user_page.evaluate("localStorage.getItem('jiuliu.token')") is None
    async with httpx.AsyncClient(base_url=base, timeout=30) as api:
        assert (await api.get("/api/user/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    console.assert_clean()
