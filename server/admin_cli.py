"""``jiuliu admin create``: make an operator, or, only when asked with ``--promote-existing``,
promote an existing user. Connects to ``MONGO_URL`` or starts the embedded database exactly as
``serve`` does, prints the result (never the password) and stops what it started.

Why promotion needs a flag: on a fresh install anyone may register the operator's email first;
a silent promotion would hand the console to whoever holds that account's password. So a new
operator always gets a password from the operator (prompt or stdin), and promoting an existing
account is an explicit act that names the account it promotes."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

import orjson
from cryptography.fernet import Fernet

from server.accounts.passwords import PasswordHasher
from server.accounts.times import iso
from server.accounts.users import check_password, check_username, normalize_email
from server.errors import RelayError
from server.ids import new_id
from server.runtime import Runtime
from server.secret_box import SecretBox, SecretKeyError, write_key_file
from server.settings import Settings
from server.storage.admins import AdminUserStore
from server.storage.ledger import utcnow
from server.storage.users import UserStore
from server.wiring import reseal_secrets


async def _read_password(from_stdin: bool) -> str:
    """The password from stdin (first line) or an interactive prompt, off the event loop."""
    loop = asyncio.get_running_loop()
    if from_stdin:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        return line.rstrip("\r\n")
    first = await loop.run_in_executor(None, getpass.getpass, "Password: ")
    again = await loop.run_in_executor(None, getpass.getpass, "Repeat password: ")
    if first != again:
        raise RelayError("passwords differ", status=400)
    return first


def describe(user: dict[str, Any]) -> str:
    """Whose account this is, in words an operator can check before promoting it."""
    created = iso(user.get("created_at")) or "unknown"
    return (f"id {user['_id']}, username {user.get('username')!r}, email {user.get('email')}, "
            f"role {user.get('role')}, status {user.get('status')}, registered {created}")


async def create_or_promote(storage: Any, settings: Settings, email: str, username: str | None,
                            password: str | None, promote_existing: bool = False) -> dict[str, Any]:
    """Create an admin with ``password``; an existing account with ``email`` is promoted only
    when ``promote_existing`` says so (409 naming the account otherwise)."""
    email = normalize_email(email)
    users, admins = UserStore(storage), AdminUserStore(storage)
    existing = await users.get_by_email(email)
    if existing is not None:
        if not promote_existing:
            raise RelayError(
                f"an account with this email already exists ({describe(existing)}); it was NOT promoted. "
                "If you registered it yourself, run again with --promote-existing; otherwise someone "
                "else may hold it: create the operator with another email", status=409)
        password_hash = None
        if password:
            password_hash = await PasswordHasher(settings.bcrypt_rounds).hash(check_password(password))
        user = await admins.promote(existing["_id"], password_hash)
        return {"action": "promoted", "password_changed": password_hash is not None, "id": user["_id"],
                "email": user["email"],
                "username": user.get("username"), "role": user["role"]}
    if not password:
        raise RelayError("a new admin needs a password (--password-stdin or the prompt)", status=400)
    name = check_username(username or email.split("@", 1)[0])
    doc = {"_id": new_id("usr"), "username": name, "email": email,
           "password_hash": await PasswordHasher(settings.bcrypt_rounds).hash(check_password(password)),
           "role": "admin", "status": "active", "balance": 0, "token_version": 0,
           "created_at": utcnow(), "ledger_marks": {}}
    await users.insert(doc)
    return {"action": "created", "id": doc["_id"], "email": email, "username": name, "role": "admin"}


async def admin_create(settings: Settings, args: argparse.Namespace) -> int:
    """The CLI step: database up, create or promote, print JSON, database down."""
    runtime = Runtime(settings)
    try:
        await runtime._start_database()
        assert runtime.storage is not None
        promote = bool(getattr(args, "promote_existing", False))
        existing = await UserStore(runtime.storage).get_by_email(normalize_email(args.email))
        if existing is not None and not promote:
            await create_or_promote(runtime.storage, settings, args.email, args.username, None)
        if existing is not None:
            print(f"jiuliu admin create: promoting the existing account {describe(existing)}",
                  file=sys.stderr, flush=True)
        ask = args.password_stdin or not existing
        password = await _read_password(args.password_stdin) if ask else None
        result = await create_or_promote(runtime.storage, settings, args.email, args.username, password,
                                         promote_existing=promote)
    except RelayError as exc:
        print(f"jiuliu admin create: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await runtime.close()
    print(orjson.dumps(result).decode(), flush=True)
    return 0


async def rotate_key(settings: Settings, args: argparse.Namespace) -> int:
    """``jiuliu admin rotate-key``: a new secrets key; every stored secret resealed under it.

    The new key is saved before anything is resealed (a crash in between leaves the database
    readable), and the previous key is kept as the second one, so relay processes still running
    with it keep reading until they re-read the key file (they do on the first value they cannot
    open). With ``JIULIU_SECRETS_KEY`` the new key list is printed for the operator to set."""
    del args
    runtime = Runtime(settings)
    try:
        await runtime._start_database()
        storage = runtime.storage
        assert storage is not None and storage.box is not None
        old = storage.box
        keys = [Fernet.generate_key(), old.keys[0]]
        if old.key_file is not None:
            write_key_file(old.key_file, keys)
            where = str(old.key_file)
        else:
            print("Set JIULIU_SECRETS_KEY to this value before the relay next starts "
                  "(the stored secrets are resealed under its first key now):", file=sys.stderr)
            print(b",".join(keys).decode(), flush=True)
            where = "JIULIU_SECRETS_KEY"
        storage.box = SecretBox(keys, key_file=old.key_file)
        resealed = await reseal_secrets(storage)
    except (RelayError, SecretKeyError) as exc:
        print(f"jiuliu admin rotate-key: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    finally:
        await runtime.close()
    print(orjson.dumps({"action": "rotated", "key": where, "resealed": resealed}).decode(), flush=True)
    return 0
