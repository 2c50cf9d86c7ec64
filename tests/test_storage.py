"""Storage: declared indexes, and the concurrency facts the design rests on (single-document
atomic updates, idempotency markers, unique keys) instead of multi-document transactions."""

from __future__ import annotations

import asyncio
import pathlib
import re

import pytest
from pymongo.errors import DuplicateKeyError

from server.storage.db import COLLECTIONS

ROOT = pathlib.Path(__file__).resolve().parent.parent


async def test_indexes_are_created_idempotently(storage):
    await storage.ensure_indexes()  # second run is a no-op
    info = await storage.db.users.index_information()
    assert any(v.get("unique") and v["key"] == [("email", 1)] for v in info.values())
    info = await storage.db.api_keys.index_information()
    assert any(v.get("unique") and v["key"] == [("key_hash", 1)] for v in info.values())


async def test_unique_email_and_key_hash(storage):
    await storage.db.users.insert_one({"_id": "u1", "email": "a@x.io", "username": "a"})
    with pytest.raises(DuplicateKeyError):
        await storage.db.users.insert_one({"_id": "u2", "email": "a@x.io", "username": "b"})
    await storage.db.api_keys.insert_one({"_id": "k1", "key_hash": "h", "user_id": "u1"})
    with pytest.raises(DuplicateKeyError):
        await storage.db.api_keys.insert_one({"_id": "k2", "key_hash": "h", "user_id": "u1"})


async def test_undeclared_collection_is_refused(storage):
    with pytest.raises(KeyError):
        storage.collection("whatever")


async def test_concurrent_conditional_increments_all_apply(storage):
    await storage.db.users.insert_one({"_id": "c", "email": "c@x.io", "username": "c", "balance": 0})
    results = await asyncio.gather(*[
        storage.db.users.update_one({"_id": "c", "balance": {"$gte": 0}}, {"$inc": {"balance": 1}})
        for _ in range(200)])
    assert sum(r.modified_count for r in results) == 200
    assert (await storage.db.users.find_one({"_id": "c"}))["balance"] == 200


async def test_idempotency_marker_applies_once_under_concurrency(storage):
    """The balance-apply pattern: a per-entry marker field guards a single-document update."""
    await storage.db.users.insert_one({"_id": "m", "email": "m@x.io", "username": "m", "balance": 0})
    same = await asyncio.gather(*[
        storage.db.users.update_one({"_id": "m", "applied.L1": {"$exists": False}},
                                 {"$inc": {"balance": 7}, "$set": {"applied.L1": 1}})
        for _ in range(50)])
    distinct = await asyncio.gather(*[
        storage.db.users.update_one({"_id": "m", f"applied.D{i}": {"$exists": False}},
                                 {"$inc": {"balance": 1}, "$set": {f"applied.D{i}": 1}})
        for i in range(150)])
    assert sum(r.modified_count for r in same) == 1
    assert sum(r.modified_count for r in distinct) == 150
    assert (await storage.db.users.find_one({"_id": "m"}))["balance"] == 157


def test_no_multi_document_transactions_in_the_code():
    """The embedded server's transactions leak and lose writes; nothing may rely on them."""
    offenders = []
    for path in list((ROOT / "server").rglob("*.py")) + list((ROOT / "admin_api").rglob("*.py")):
        text = path.read_text()
        if re.search(r"start_transaction|with_transaction|start_session", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_collections_declared():
    for name in ("users", "api_keys", "upstreams", "groups", "usage", "ledger", "prices",
                 "settings", "leases"):
        assert name in COLLECTIONS


async def test_count_matches_count_documents(storage):
    await storage.db.rollups.insert_many([{"_id": f"c{i}", "user_id": "u" if i % 3 else "v", "n": i} for i in range(30)])
    for query in ({}, {"user_id": "u"}, {"user_id": "nobody"}, {"$and": [{"user_id": "v"}, {"n": {"$gte": 10}}]}):
        assert await storage.count("rollups", query) == await storage.db.rollups.count_documents(query)
