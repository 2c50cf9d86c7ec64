"""The measured quirks of the pinned nx-27017 (setup.cfg: >=0.8.1,<0.9) that the code works around.

Each test asserts the quirk as it is today. If one fails after an upgrade, the embedded server
changed behaviour: re-check the workaround named in the test before widening the pin."""

from __future__ import annotations

import datetime as dt
import importlib.metadata

from pymongo import ReturnDocument


def test_pinned_minor_version():
    version = importlib.metadata.version("nx-27017")
    assert version.startswith("0.8."), f"nx-27017 {version}: re-measure the quirks before moving the pin"


async def test_set_stores_datetimes_as_text(storage):
    """Workaround: timestamps compared with $max/$gte are stored as epoch numbers
    (server/billing/charges.py, server/storage/recharge.py)."""
    coll = storage.db["quirk_dates"]
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    await coll.insert_one({"_id": "d", "n": 0})
    doc = await coll.find_one_and_update({"_id": "d"}, {"$set": {"at": when}},
                                         return_document=ReturnDocument.AFTER)
    assert not isinstance(doc["at"], dt.datetime), "nx-27017 now keeps $set datetimes: see charges.py"


async def test_set_stores_booleans_as_integers(storage):
    """Workaround: flags are read with bool() and never matched as ``True`` in filters."""
    coll = storage.db["quirk_bools"]
    await coll.insert_one({"_id": "b"})
    await coll.update_one({"_id": "b"}, {"$set": {"flag": True}})
    doc = await coll.find_one({"_id": "b"})
    assert doc["flag"] == 1 and doc["flag"] is not True, "nx-27017 now keeps $set booleans"


async def test_date_like_strings_never_match_themselves(storage):
    """Workaround: ``server/storage/exact.py`` (a one-value ``$in`` beside a sentinel)."""
    from server.storage.exact import exact

    coll = storage.db["quirk_datelike"]
    await coll.insert_one({"_id": "e", "email": "2024-01-15@corp.com"})
    assert await coll.find_one({"email": "2024-01-15@corp.com"}) is None, \
        "nx-27017 now matches date-like strings: exact() may be retired"
    assert (await coll.find_one({"email": exact("2024-01-15@corp.com")}))["_id"] == "e"


async def test_database_names_share_collections(storage):
    """Workaround: the tests use one secrets key per session (tests/conftest.py)."""
    other = storage.client[storage.db.name + "_other"]
    await storage.db["quirk_shared"].insert_one({"_id": "s"})
    assert await other["quirk_shared"].find_one({"_id": "s"}) is not None, \
        "nx-27017 now separates databases"
