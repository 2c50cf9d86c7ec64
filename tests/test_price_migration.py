"""Installs from before the catalogue: their seeded rules migrate at start (never-edited ones
replaced by the catalogue, edited ones kept and flagged), and ``jiuliu prices status|apply``
reviews and applies a newer catalogue from the command line."""

from __future__ import annotations

import argparse
import copy
import uuid

import orjson
import pytest_asyncio

from server.pricing.catalogue import installed_version
from server.prices_cli import prices_command
from server.settings import Settings
from server.storage.db import Storage
from server.storage.prices import POINTER_ID, PriceStore
from tests.support import TEST_SETTINGS

INSTALLED = "genai-prices 0.2.5"


@pytest_asyncio.fixture
async def old_install(embedded_db):
    """A database as an install from before the catalogue left it (no catalogue pointer).
    (nx-27017 keeps one namespace whatever the database name: start from empty collections.)"""
    store = Storage.connect(embedded_db.url, "t_old_install_" + uuid.uuid4().hex[:6])
    await store.ensure_indexes()
    for name in ("prices", "price_catalogues"):
        await store.collection(name).delete_many({})
    await store.db.settings.delete_one({"_id": POINTER_ID})
    yield store
    await store.drop()
    await store.close()


def _legacy(pattern: str, input: int, output: int, w5: int, w1h: int, read: int) -> dict:
    return {"_id": "price_" + uuid.uuid4().hex[:8], "pattern": pattern, "input": input, "output": output,
            "cache_write_5m": w5, "cache_write_1h": w1h, "cache_read": read, "placeholder": False, "note": ""}


async def test_migration_of_old_seeded_rules(old_install):
    await old_install.db.prices.insert_many([
        _legacy("claude-opus-4*", 15_000_000, 75_000_000, 18_750_000, 30_000_000, 1_500_000),  # as seeded
        _legacy("gpt-5*", 1_250_000, 10_000_000, 1_562_500, 2_500_000, 125_000),  # as seeded
        _legacy("claude-haiku-5*", 1_000_000, 5_000_000, 1_250_000, 2_000_000, 100_000),  # as seeded
        # edited by an operator (input only: the old cache prices stayed, the bug of issue 12)
        _legacy("claude-sonnet-4*", 2_500_000, 15_000_000, 3_750_000, 6_000_000, 300_000),
        _legacy("my-model", 1_000_000, 2_000_000, 1_250_000, 2_000_000, 100_000),  # the operator's own
    ])
    prices = PriceStore(old_install)
    await prices.prepare()
    docs = {d["pattern"]: d for d in await prices.list_docs()}
    assert set(docs) == {"claude-sonnet-4*", "my-model"}  # unedited seeded rules replaced by the catalogue
    assert docs["claude-sonnet-4*"]["source"] == "operator" and "review" in docs["claude-sonnet-4*"]
    assert docs["claude-sonnet-4*"]["review"] and not docs["my-model"].get("review")
    assert docs["my-model"]["explicit"] == ["input", "output"]  # its cache prices are the derived ones
    assert (await prices.find("claude-opus-4-6")).input == 5_000_000  # the catalogue now
    assert (await prices.find("claude-haiku-5-5")).source == "catalogue"
    assert (await prices.find("gpt-5.4")).input == 2_500_000
    assert (await prices.find("claude-sonnet-4-5")).input == 2_500_000  # the edited rule still wins
    pointer = await old_install.db.settings.find_one({"_id": POINTER_ID})
    assert pointer["active"] == INSTALLED == installed_version()
    assert await prices.migrate_legacy() == {"deleted": 0, "kept": 0}  # idempotent
    await prices.prepare()
    assert len(await prices.list_docs()) == 2


async def test_cli_status_and_apply(old_install, embedded_db, capsys):
    """``jiuliu prices status`` shows the pending catalogue and its difference; ``apply`` with any
    other version is refused and changes nothing; with the pending version it is in force."""
    settings = Settings(**{**TEST_SETTINGS, "mongo_url": embedded_db.url, "db_name": old_install.db.name})
    prices = PriceStore(old_install)
    await prices.prepare()
    current = await old_install.db.price_catalogues.find_one({"_id": INSTALLED})
    older = {**copy.deepcopy(current), "_id": "genai-prices 0.0.1"}
    older["entries"] = [e for e in older["entries"] if e["model"] != "gpt-5.5"]
    await old_install.db.price_catalogues.insert_one(older)
    await prices.apply("genai-prices 0.0.1", "test")
    assert await prices_command(settings, argparse.Namespace(prices_command="status")) == 0
    status = orjson.loads(capsys.readouterr().out)
    assert (status["active"], status["pending"]) == ("genai-prices 0.0.1", INSTALLED)
    assert [(c["model"], c["change"]) for c in status["diff"]] == [("gpt-5.5", "added")]
    args = argparse.Namespace(prices_command="apply", version="genai-prices 0.0.2")
    assert await prices_command(settings, args) == 2 and "awaiting review" in capsys.readouterr().err
    assert (await old_install.db.settings.find_one({"_id": POINTER_ID}))["active"] == "genai-prices 0.0.1"
    args.version = INSTALLED
    assert await prices_command(settings, args) == 0
    applied = orjson.loads(capsys.readouterr().out)
    assert (applied["active"], applied["pending"], applied["applied_by"]) == (INSTALLED, None, "cli")
    audit = await old_install.db.audit.find_one({"action": "price.catalogue.apply", "target": INSTALLED})
    assert audit is not None and audit["admin_id"] == "cli"  # as the price page's apply records it
