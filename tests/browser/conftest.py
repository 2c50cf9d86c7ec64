"""Fixtures of the dashboard's end-to-end tests: Debian's Chromium driven by Python
Playwright's async API on the session's event loop, a real relay with an emulator upstream, and
a helper that records console errors of every page.

Never downloads a browser: Chromium is /usr/bin/chromium (scripts/browser-deps installs it)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import pytest_asyncio

from tests.relay.support import add_upstreams, start_pool_emulator

CHROMIUM = os.environ.get("JIULIU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest_asyncio.fixture(scope="session")
async def browser():
    from playwright import async_api as playwright_api  # a test dependency: missing is a failure

    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/browser-deps (never `playwright install`)")
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest_asyncio.fixture(scope="module")
async def emu():
    server = await start_pool_emulator(["o1", "a1", "a2"])
    yield server
    await server.stop()


@pytest_asyncio.fixture(scope="module")
async def dashboard(relay, emu):
    """The relay with one Codex upstream account (the operator adds a Claude one in the UI)."""
    await add_upstreams(relay.deps, emu, ["o1"], "codex", "openai")
    return relay


class ConsoleLog:
    """Console errors, warnings and uncaught exceptions of the pages it watches."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def watch(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))

    def _console(self, message) -> None:
        if message.type == "error" or (message.type == "warning" and "i18n" in message.text):
            self.problems.append(f"{message.type}: {message.text} @ {message.location}")

    def forget_http_errors(self, status: int) -> None:
        """Drop the browser's own report of an expected failed request (e.g. a wrong password)."""
        self.problems = [p for p in self.problems if f"status of {status}" not in p]

    def assert_clean(self) -> None:
        assert not self.problems, "console errors:\n" + "\n".join(self.problems)


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


UNLABELLED = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const labelled = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.closest('label') ||
      (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]'));
    if (!labelled) bad.push(el.outerHTML.slice(0, 120));
  }
  for (const el of document.querySelectorAll('button, a[href], [role=tab]')) {
    if (!(el.getAttribute('aria-label') || el.textContent || '').trim()) bad.push(el.outerHTML.slice(0, 120));
  }
  for (const img of document.querySelectorAll('[role=img]')) {
    if (!img.getAttribute('aria-label')) bad.push(img.outerHTML.slice(0, 120));
  }
  return bad;
}"""


async def assert_accessible_names(page) -> None:
    """Every form control has a label and every button, link and image a name."""
    bad = await page.evaluate(UNLABELLED)
    assert not bad, f"unlabelled elements on {page.url}:\n" + "\n".join(bad)


async def screenshot_pages(page, base_url: str, paths: list[str], prefix: str, check=None) -> list[Path]:
    """Every path at desktop and phone width, full page, into tests/screenshots/; ``check(page,
    path, viewport, screenshot)`` (optional) then asserts what a broken page would lack."""
    SCREENSHOTS.mkdir(exist_ok=True)
    written = []
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(viewport)
        for path in paths:
            await page.goto(base_url + path)
            await page.wait_for_selector("main .page")
            if await page.locator(".chart").count():
                await page.wait_for_selector(".chart .uplot")
            await page.wait_for_timeout(150)
            await assert_accessible_names(page)
            name = path.strip("/").replace("/", "-") or "root"
            target = SCREENSHOTS / f"{prefix}{name}-{label}.png"
            await page.screenshot(path=str(target), full_page=True)
            if check is not None:
                await check(page, path, viewport, target)
            written.append(target)
    await page.set_viewport_size(DESKTOP)
    return written


def pytest_collection_modifyitems(config, items) -> None:
    """``JIULIU_TEST_ORDER=reverse`` or ``random[:SEED]`` runs the browser tests in another order,
    to show they do not depend on it; without it (CI) they run in the files' order."""
    order = os.environ.get("JIULIU_TEST_ORDER", "")
    if not order:
        return
    here = Path(__file__).resolve().parent
    slots = [i for i, item in enumerate(items) if here in Path(str(item.path)).resolve().parents]
    chosen = [items[i] for i in slots]
    if order == "reverse":
        chosen.reverse()
    elif order.startswith("random"):
        import random

        seed = order.partition(":")[2] or str(random.randrange(10**6))
        print(f"browser tests in random order, seed {seed} (JIULIU_TEST_ORDER=random:{seed} repeats it)")
        random.Random(seed).shuffle(chosen)
    else:
        raise pytest.UsageError(f"JIULIU_TEST_ORDER must be reverse or random[:SEED], not {order!r}")
    for slot, item in zip(slots, chosen):
        items[slot] = item
