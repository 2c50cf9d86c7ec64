"""``jiuliu admin create``: creates an admin, or promotes an existing user (ending their
sessions), and never prints the password."""

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


def _args(email: str, username: str | None = None, stdin: bool = True) -> argparse.Namespace:
    return argparse.Namespace(email=email, username=username, password_stdin=stdin, config=None)


async def test_create_then_promote(storage, embedded_db, monkeypatch, capsys):
    settings = Settings(**{**TEST_SETTINGS, "mongo_url": embedded_db.url, "db_name": storage.db.name})
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\n"))
    assert await admin_create(settings, _args("Boss@Example.test", "boss")) == 0
    out = capsys.readouterr().out
    result = orjson.loads(out)
    assert result["action"] == "created" and result["role"] == "admin" and result["email"] == "boss@example.test"
    assert "correct horse" not in out
    doc = await storage.users.find_one({"_id": result["id"]})
    assert doc["role"] == "admin" and doc["username"] == "boss"
    assert await PasswordHasher(4).verify("correct horse battery", doc["password_hash"])

    user = await make_user(storage, email="member@example.test")
    monkeypatch.setattr(sys, "stdin", io.StringIO("another password!\n"))
    assert await admin_create(settings, _args("member@example.test")) == 0
    result = orjson.loads(capsys.readouterr().out)
    assert result == {"action": "promoted", "id": user["_id"], "email": "member@example.test",
                      "username": user["username"], "role": "admin"}
    doc = await storage.users.find_one({"_id": user["_id"]})
    assert doc["role"] == "admin" and doc["token_version"] == 1  # old sessions end


async def test_refuses_bad_input(storage, embedded_db, monkeypatch, capsys):
    settings = Settings(**{**TEST_SETTINGS, "mongo_url": embedded_db.url, "db_name": storage.db.name})
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert await admin_create(settings, _args("new@example.test")) == 2
    assert "密码" in capsys.readouterr().err
    assert await admin_create(settings, _args("not-an-email")) == 2
