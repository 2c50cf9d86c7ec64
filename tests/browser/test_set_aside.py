"""The operator overview shows usage records the database refused, and re-drives them: the
block appears only when there are some, its button charges them and the block goes away.
Independent of the other browser tests (its own relay module, its own operator)."""

from __future__ import annotations

import asyncio

import pytest

from server.billing.charges import UsageRecord
from server.billing.journal import UsageJournal
from server.pricing.usage import Usage
from server.ids import new_id
from tests.browser.conftest import DESKTOP
from tests.relay.support import make_user

pytestmark = pytest.mark.browser

ADMIN = {"username": "aside_op", "email": "aside.op@example.test", "password": "operator pass 42"}


async def test_overview_lists_set_aside_records_and_re_drives_them(browser, dashboard, console, tmp_path):
    deps = dashboard.deps
    registered = await deps.users.register(ADMIN["username"], ADMIN["email"], ADMIN["password"])
    await deps.storage.db.users.update_one({"_id": registered.get("_id") or registered["id"]},
                                        {"$set": {"role": "admin"}})
    await deps.prices.seed_if_empty()
    user = await make_user(deps.storage, balance=10_000_000)
    record = UsageRecord(request_id=new_id("req"), user_id=user["_id"], key_id="key_aside", group="claude",
                         model="claude-sonnet-4-5", usage=Usage(input=1000, output=100),
                         rule=await deps.prices.find("claude-sonnet-4-5"), key_name="laptop")
    journal = UsageJournal.open(tmp_path, 0)
    await asyncio.to_thread(journal.set_aside, record, "WriteError: refused for the test")
    before, deps.recorder.journal = deps.recorder.journal, journal
    context = await browser.new_context(viewport=DESKTOP, locale="en-US")
    try:
        page = await context.new_page()
        console.watch(page)
        await page.goto(dashboard.base_url + "/login")
        await page.fill("input[name=email]", ADMIN["email"])
        await page.fill("input[name=password]", ADMIN["password"])
        await page.click("form button[type=submit]")
        await page.wait_for_url("**/overview")
        await page.goto(dashboard.base_url + "/admin/overview")
        block = page.locator(".set-aside .card")
        await block.wait_for()
        text = await block.inner_text()
        assert record.request_id in text and "refused for the test" in text and "laptop" in text
        await block.locator("button[data-action=redrive]").click()
        await page.locator(".set-aside .card").wait_for(state="detached")
        toast = await page.locator(".toast").first.inner_text()
        assert "1" in toast and "0" in toast  # written 1, still refused 0 (in the page's language)
        assert await deps.storage.db.usage.count_documents({"request_id": record.request_id}) == 1
        assert journal.set_aside_entries() == []
        console.assert_clean()
    finally:
        deps.recorder.journal = before
        journal.close()
        await context.close()
