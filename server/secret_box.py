"""Encryption of secrets at rest: upstream API keys and the generated JWT secret.

The database holds them as ``enc:v1:<Fernet token>`` (``cryptography``'s Fernet: AES-128-CBC
with HMAC-SHA256); the key lives outside the database, so a copy of the database file (or a
local user reading it through the embedded server's port) does not yield an operator session
or the upstream accounts. Where the key comes from:

* ``secrets_key`` (``JIULIU_SECRETS_KEY``): one or more Fernet keys, comma-separated, the first
  encrypts, all decrypt; or else
* ``<data_dir>/secrets.key``: created 0600 on first start, one key per line (newest first; a
  rotation keeps the previous one so a process that has not reloaded yet can still read).

On a token it cannot read the box re-reads the key file once (``jiuliu admin rotate-key`` may
have replaced it). Values without the prefix are legacy clear text: readable, and re-encrypted
by the start-up migration.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger(__name__)

PREFIX = "enc:v1:"
KEY_FILE = "secrets.key"


class SecretKeyError(RuntimeError):
    """The key is missing, malformed, or does not open the stored secrets."""


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def parse_keys(text: str, source: str) -> list[bytes]:
    keys = [k.strip().encode() for k in text.replace(",", "\n").splitlines() if k.strip()]
    if not keys:
        raise SecretKeyError(f"{source} holds no key")
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise SecretKeyError(f"{source}: not a Fernet key (44 URL-safe base64 characters; make one "
                                 "with `jiuliu admin rotate-key`)") from None
    return keys


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) and make it 0700: only the relay's user may look inside."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        os.chmod(path, 0o700)


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically with 0600 permissions."""
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(b"\n".join(keys) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class SecretBox:
    """Encrypts and decrypts secret strings with the current key set."""

    def __init__(self, keys: list[bytes], key_file: Path | None = None) -> None:
        self.key_file = key_file
        self._set(keys)

    def _set(self, keys: list[bytes]) -> None:
        self.keys = keys
        self._fernet = MultiFernet([Fernet(k) for k in keys])
        self._primary = Fernet(keys[0])

    @classmethod
    def from_settings(cls, configured: str, data_dir: Path) -> "SecretBox":
        """The box of ``secrets_key``, or of the data directory's key file (made if absent)."""
        if configured:
            return cls(parse_keys(configured, "secrets_key (JIULIU_SECRETS_KEY)"))
        ensure_private_dir(data_dir)
        path = data_dir / KEY_FILE
        if not path.exists():
            # Written aside, then linked into place: a parallel worker either wins the link or
            # reads the winner's complete file, never a half-written one.
            tmp = path.with_name(f"{path.name}.{os.getpid()}.new")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key() + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
                log.info("generated the secrets key %s (back it up with the database)", path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        elif stat.S_IMODE(path.stat().st_mode) & 0o077:
            log.warning("%s was readable by others: set to 0600", path)
            os.chmod(path, 0o600)
        return cls(parse_keys(path.read_text(), str(path)), key_file=path)

    def encrypt(self, value: str) -> str:
        """``value`` sealed with the primary key (already sealed values are returned as they are)."""
        if is_encrypted(value):
            return value
        return PREFIX + self._primary.encrypt(value.encode()).decode()

    def decrypt(self, value: str) -> str:
        """The clear text of a stored value (legacy clear text passes through)."""
        if not is_encrypted(value):
            return value
        token = value[len(PREFIX):].encode()
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            if self._reload():
                try:
                    return self._fernet.decrypt(token).decode()
                except InvalidToken:
                    pass
        raise SecretKeyError("a stored secret cannot be decrypted with the secrets key "
                             f"({self.key_file or 'secrets_key'}): restore the key that encrypted it")

    def needs_rotation(self, value: object) -> bool:
        """True for clear text and for tokens not sealed with the primary key."""
        if not isinstance(value, str) or not value:
            return False
        if not is_encrypted(value):
            return True
        try:
            self._primary.decrypt(value[len(PREFIX):].encode())
            return False
        except InvalidToken:
            return True

    def reseal(self, value: str) -> str:
        """``value`` (clear or sealed under any known key) sealed under the primary key."""
        return PREFIX + self._primary.encrypt(self.decrypt(value).encode()).decode()

    def _reload(self) -> bool:
        """Re-read the key file (a rotation may have replaced it); True if the keys changed."""
        if self.key_file is None:
            return False
        try:
            keys = parse_keys(self.key_file.read_text(), str(self.key_file))
        except (OSError, SecretKeyError):
            return False
        if keys == self.keys:
            return False
        self._set(keys)
        return True
