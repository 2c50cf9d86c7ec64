"""Fixtures for the emulator's tests: one emulator per test module (two accounts), reset to its
initial knobs before every test, and an HTTP client bound to it."""

from __future__ import annotations

import asyncio
import threading

import anthropic
import httpx
import openai
import pytest
import pytest_asyncio

from emulator import EmulatorAccount, start_emulator
from tests.emulator.helpers import KEY_A, KEY_B


@pytest_asyncio.fixture(scope="module")
async def emu():
    """A running emulator with accounts ``a`` (KEY_A) and ``b`` (KEY_B)."""
    server = await start_emulator([EmulatorAccount(KEY_A, name="a"), EmulatorAccount(KEY_B, name="b")])
    yield server
    await server.stop()


@pytest.fixture(autouse=True)
def fresh_state(emu):
    """Every test starts with zero counters, empty caches and the initial knobs."""
    emu.state.reset(knobs=True)


@pytest_asyncio.fixture(scope="module")
async def http(emu):
    """One HTTP client per module: building a client (its TLS context) costs tens of ms."""
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def warm_sdks():
    """Build the SDKs' lazy pydantic schemas once, in a helper thread with its own loop and
    emulator: the first streamed parse costs the SDKs about a second, which the event-loop
    watchdog would otherwise blame on the emulator."""

    user = [{"role": "user", "content": "x"}]

    async def warm() -> None:
        server = await start_emulator([EmulatorAccount("warm")])
        try:
            async with anthropic.AsyncAnthropic(base_url=server.base_url, api_key="warm", max_retries=0) as a:
                async with a.messages.stream(
                        model="m", max_tokens=64, messages=user,
                        thinking={"type": "enabled", "budget_tokens": 9},
                        tools=[{"name": "t", "input_schema": {"type": "object"}}],
                        tool_choice={"type": "any"}) as stream:
                    await stream.get_final_message()
                await a.messages.create(model="m", max_tokens=8, messages=user)
                await a.messages.count_tokens(model="m", messages=user)
                await a.models.list()
            base_url = server.base_url + "/v1"
            async with openai.AsyncOpenAI(base_url=base_url, api_key="warm", max_retries=0) as o:
                async with o.responses.stream(
                        model="m", input="x", tool_choice="required",
                        reasoning={"effort": "low", "summary": "auto"},
                        tools=[{"type": "function", "name": "f", "parameters": {}}]) as stream:
                    await stream.get_final_response()
                async for _ in await o.responses.create(model="m", input="x", stream=True):
                    pass
                await o.responses.create(model="m", input="x")
                await o.models.list()
        finally:
            await server.stop()

    thread = threading.Thread(target=lambda: asyncio.run(warm()))
    thread.start()
    thread.join()
