"""F7: secrets at rest. The embedded database's directory is 0700 and its files 0600; upstream
API keys and the JWT secret are sealed with a key kept outside the database (a 0600 key file,
or JIULIU_SECRETS_KEY); clear values are migrated; ``jiuliu admin rotate-key`` reseals them."""

from __future__ import annotations

import argparse
import os
import stat
import time
import uuid

import jwt
import orjson
import pytest
from cryptography.fernet import Fernet

from server.admin_cli import rotate_key
from server.embedded_db import EmbeddedMongo
from server.secret_box import KEY_FILE, PREFIX, SecretBox, SecretKeyError
from server.settings import Settings
from server.storage.db import Storage
from server.storage.runtime_settings import SECRETS_ID, SecretStore
from server.storage.upstreams import UpstreamStore
from server.wiring import reseal_secrets
from tests.relay.support import make_user
from tests.support import TEST_SETTINGS

CLEAR_KEY = "sk-ant-api03-" + "x" * 40


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_embedded_files_are_private(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    stale_log = data / "embedded-db.log"
    stale_log.write_text("from an older version\n")
    os.chmod(stale_log, 0o644)
    db = EmbeddedMongo(data)
    await db.start(timeout=30)
    try:
        storage = Storage.connect(db.url, "perm")
        await storage.db.users.insert_one({"_id": "u1", "email": "a@example.test"})
        await storage.close()
        assert _mode(data) == 0o700
        files = sorted(p.name for p in data.iterdir())
        assert "jiuliu.db" in files and "embedded-db.log" in files
        for path in data.iterdir():
            assert _mode(path) == 0o600, (path.name, oct(_mode(path)))
    finally:
        db.stop()


async def test_upstream_keys_and_jwt_secret_are_sealed(storage):
    upstreams = UpstreamStore(storage)
    made = await upstreams.create({"name": f"sealed-{uuid.uuid4().hex[:6]}", "groups": ["claude"],
                                   "protocol": "anthropic", "base_url": "http://127.0.0.1:9", "api_key": CLEAR_KEY})
    assert made["api_key"] == CLEAR_KEY  # callers see the clear key
    raw = await storage.db.upstreams.find_one({"_id": made["_id"]})
    assert raw["api_key"].startswith(PREFIX) and CLEAR_KEY not in str(raw)
    assert (await upstreams.get(made["_id"]))["api_key"] == CLEAR_KEY
    assert [d["api_key"] for d in await upstreams.list() if d["_id"] == made["_id"]] == [CLEAR_KEY]
    updated = await upstreams.update(made["_id"], {"api_key": CLEAR_KEY + "2"})
    assert updated["api_key"] == CLEAR_KEY + "2"
    assert (await storage.db.upstreams.find_one({"_id": made["_id"]}))["api_key"].startswith(PREFIX)

    secret = await SecretStore(storage).get_or_create("jwt_secret", lambda: "generated-secret-value-" + "s" * 40)
    stored = (await storage.db.settings.find_one({"_id": SECRETS_ID}))["jwt_secret"]
    assert stored.startswith(PREFIX) and secret not in stored
    assert await SecretStore(storage).get_or_create("jwt_secret", lambda: "other") == secret


async def test_reading_the_database_no_longer_mints_an_operator(relay):
    """The F7 attack: read the JWT secret from the database, sign an operator token, call the
    operator API. The stored value is sealed; a token signed with it is refused."""
    admin = await make_user(relay.deps.storage, role="admin")
    stored = (await relay.deps.storage.db.settings.find_one({"_id": SECRETS_ID}))["jwt_secret"]
    now = int(time.time())
    forged = jwt.encode({"sub": admin["_id"], "ver": 0, "iat": now, "exp": now + 600}, stored, algorithm="HS256")
    async with relay.client() as http:
        r = await http.get("/api/admin/users", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401
        real, _ = relay.deps.sessions.issue(admin)
        r = await http.get("/api/admin/users", headers={"Authorization": f"Bearer {real}"})
        assert r.status_code == 200


async def test_clear_values_are_migrated(storage):
    await storage.db.upstreams.insert_one({"_id": "ups_legacy", "name": "legacy", "api_key": CLEAR_KEY,
                                        "groups": [], "protocol": "anthropic", "base_url": "http://127.0.0.1:9"})
    await storage.db.settings.update_one({"_id": SECRETS_ID}, {"$set": {"legacy_secret": "clear-legacy"}}, upsert=True)
    assert (await UpstreamStore(storage).get("ups_legacy"))["api_key"] == CLEAR_KEY  # readable before
    assert await reseal_secrets(storage) >= 2
    raw = await storage.db.upstreams.find_one({"_id": "ups_legacy"})
    assert raw["api_key"].startswith(PREFIX)
    assert (await UpstreamStore(storage).get("ups_legacy"))["api_key"] == CLEAR_KEY
    assert (await storage.db.settings.find_one({"_id": SECRETS_ID}))["legacy_secret"].startswith(PREFIX)
    assert await SecretStore(storage).get_or_create("legacy_secret", lambda: "x") == "clear-legacy"
    assert await reseal_secrets(storage) == 0  # idempotent


async def test_rotate_key(tmp_path, capsys):
    data = tmp_path / "data"
    db = EmbeddedMongo(tmp_path / "db")  # its own server: nx-27017 shares collections between databases
    await db.start(timeout=30)
    settings = Settings(**{**TEST_SETTINGS, "mongo_url": db.url, "data_dir": str(data), "db_name": "rotate"})
    box = SecretBox.from_settings("", data)  # what the relay makes at its first start
    key_file = data / KEY_FILE
    assert _mode(data) == 0o700 and _mode(key_file) == 0o600
    storage = Storage.connect(db.url, settings.db_name)
    storage.box = box
    try:
        made = await UpstreamStore(storage).create({"name": "r1", "api_key": CLEAR_KEY, "groups": []})
        secret = await SecretStore(storage).get_or_create("jwt_secret", lambda: "the-jwt-secret-" + "j" * 40)
        before = (await storage.db.upstreams.find_one({"_id": made["_id"]}))["api_key"]

        assert await rotate_key(settings, argparse.Namespace()) == 0
        result = orjson.loads(capsys.readouterr().out)
        assert result == {"action": "rotated", "key": str(key_file), "resealed": 2}
        keys = key_file.read_text().split()
        assert len(keys) == 2 and keys[1] == box.keys[0].decode() and _mode(key_file) == 0o600
        after = (await storage.db.upstreams.find_one({"_id": made["_id"]}))["api_key"]
        assert after != before
        assert Fernet(keys[0].encode()).decrypt(after[len(PREFIX):].encode()).decode() == CLEAR_KEY
        # a process still running with the old key re-reads the key file and goes on
        assert (await UpstreamStore(storage).get(made["_id"]))["api_key"] == CLEAR_KEY
        assert box.keys[0] == keys[0].encode()
        assert await SecretStore(storage).get_or_create("jwt_secret", lambda: "x") == secret
        # without the key nothing opens
        stranger = Storage.connect(db.url, settings.db_name)
        stranger.box = SecretBox([Fernet.generate_key()])
        with pytest.raises(SecretKeyError):
            await UpstreamStore(stranger).get(made["_id"])
        await stranger.close()
    finally:
        await storage.close()
        db.stop()


def test_key_from_the_environment(tmp_path):
    key = Fernet.generate_key().decode()
    box = SecretBox.from_settings(key, tmp_path / "unused")
    assert box.decrypt(box.encrypt("v")) == "v" and not (tmp_path / "unused").exists()
    with pytest.raises(SecretKeyError, match="not a Fernet key"):
        SecretBox.from_settings("not-a-key", tmp_path)
