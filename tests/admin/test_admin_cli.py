"""``jiuliu admin create``: creates an admin with a password; promotes an existing user (ending
their sessions) only with ``--promote-existing``, naming the account; never prints the password."""

from __future__ import annotations

import argparse
import io
import sys

import orjson

from server.accounts.passwords import PasswordHasher
from server.admin_cli import admin_create
from server.settings import Settings
from tests.relay.support import make_user
from tests.support import TEST_SETTINGS


def _args(email: str, username: str | None = None, stdin: bool = True,
          promote: bool = False) -> argparse.Namespace:
    return argparse.Namespace(email=email, username=username, password_stdin=stdin, config=None,
                              promote_existing=promote)


async def test_create_then_promote(storage, embedded_db, monkeypatch, capsys, tmp_path):
    settings = Settings(**{**TEST_SETTINGS, "mongo_url": embedded_db.url, "db_name": storage.db.name,
                           "data_dir": str(tmp_path)})
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    assert await admin_create(settings, _args("Boss@Example.test", "boss")) == 0
    out = capsys.readouterr().out
    result = orjson.loads(out)
    assert result["action"] == "created" and result["role"] == "admin" and result["email"] == "boss@example.test"
    assert "correct horse" not in out
    doc = await storage.db.users.find_one({"_id": result["id"]})
    assert doc["role"] == "admin" and doc["username"] == "boss"
    assert await PasswordHasher(4).verify("correct horse battery", doc["password_hash"])

    user = await make_user(storage, email="member@example.test")
    monkeypatch.setattr(sys, "stdin", io.StringIO("another password!\n"))
    assert await admin_create(settings, _args("member@example.test", promote=True)) == 0
    captured = capsys.readouterr()
    result = orjson.loads(captured.out)
    assert result == {"action": "promoted", "password_changed": True, "id": user["_id"],
                      "email": "member@example.test", "username": user["username"], "role": "admin"}
    assert f"promoting the existing account id {user['_id']}" in captured.err
    assert user["username"] in captured.err
    doc = await storage.db.users.find_one({"_id": user["_id"]})
    assert doc["role"] == "admin" and doc["token_version"] == 1  # old sessions end


async def test_refuses_bad_input(storage, embedded_db, monkeypatch, capsys, tmp_path):
    settings = Settings(**{**TEST_SETTINGS, "mongo_url": embedded_db.url, "db_name": storage.db.name,
                           "data_dir": str(tmp_path)})
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert await admin_create(settings, _args("new@example.test")) == 2
    assert "密码" in capsys.readouterr().err
    assert await admin_create(settings, _args("not-an-email")) == 2


async def test_existing_account_is_never_promoted_silently(storage, embedded_db, monkeypatch, capsys, tmp_path):
    """F1: someone registered the operator's email first; ``admin create`` refuses, names the
    account, and neither its role nor its password changes."""
    settings = Settings(**{**TEST_SETTINGS, "mongo_url": embedded_db.url, "db_name": storage.db.name,
                           "data_dir": str(tmp_path)})
    squatter = await make_user(storage, email="ops@example.test")
    before = await storage.db.users.find_one({"_id": squatter["_id"]})
    for stdin in (False, True):
        monkeypatch.setattr(sys, "stdin", io.StringIO("operator password!\n"))
        assert await admin_create(settings, _args("ops@example.test", stdin=stdin)) == 2
        err = capsys.readouterr().err
        assert "NOT promoted" in err and squatter["_id"] in err and "--promote-existing" in err
    after = await storage.db.users.find_one({"_id": squatter["_id"]})
    assert after["role"] == "user" and after["password_hash"] == before["password_hash"]
    assert after["token_version"] == before["token_version"]


async def test_promotion_without_password_keeps_it(storage, embedded_db, monkeypatch, capsys, tmp_path):
    settings = Settings(**{**TEST_SETTINGS, "mongo_url": embedded_db.url, "db_name": storage.db.name,
                           "data_dir": str(tmp_path)})
    user = await make_user(storage, email="keeper@example.test")
    before = await storage.db.users.find_one({"_id": user["_id"]})
    assert await admin_create(settings, _args("keeper@example.test", stdin=False, promote=True)) == 0
    result = orjson.loads(capsys.readouterr().out)
    assert result["action"] == "promoted" and result["password_changed"] is False
    after = await storage.db.users.find_one({"_id": user["_id"]})
    assert after["role"] == "admin" and after["password_hash"] == before["password_hash"]
