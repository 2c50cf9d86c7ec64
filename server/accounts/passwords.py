"""Password hashing with bcrypt, always in an executor so the event loop never waits for it.

bcrypt reads at most 72 bytes, so passwords are first reduced to a base64 SHA-256 digest
(44 bytes, no NUL): every character of a long passphrase counts, and no input is an error.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import unicodedata

import bcrypt

MIN_LENGTH = 8
MAX_LENGTH = 256


def _prehash(password: str) -> bytes:
    normalized = unicodedata.normalize("NFC", password)
    digest = hashlib.sha256(normalized.encode("utf-8", "surrogatepass")).digest()
    return base64.b64encode(digest)


class PasswordHasher:
    """Hashes and checks passwords at a fixed bcrypt cost (``settings.bcrypt_rounds``)."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self._dummy: bytes | None = None

    async def hash(self, password: str) -> str:
        """A new salted hash of ``password``."""
        loop = asyncio.get_running_loop()
        salt = bcrypt.gensalt(self.rounds)
        hashed = await loop.run_in_executor(None, bcrypt.hashpw, _prehash(password), salt)
        return hashed.decode("ascii")

    async def verify(self, password: str, hashed: str | None) -> bool:
        """True if ``password`` matches; with no hash, spend the same time and say no."""
        loop = asyncio.get_running_loop()
        if not hashed:
            # Unknown accounts cost as much as wrong passwords, so timing reveals nothing.
            if self._dummy is None:
                self._dummy = (await self.hash(secrets.token_hex(16))).encode("ascii")
            await loop.run_in_executor(None, bcrypt.checkpw, _prehash(password), self._dummy)
            return False
        try:
            return await loop.run_in_executor(None, bcrypt.checkpw, _prehash(password),
                                              hashed.encode("ascii"))
        except ValueError:  # not a bcrypt hash (corrupt or foreign): never a match
            return False
