"""API keys: made by `minisora keys create NAME`, shown once, stored only as a SHA-256 hash.

A key is 32 random bytes, so a plain (fast) hash is enough: there is no password to guess, and
a slow hash would only slow every request down.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from minisora.server.db import Database

KEY_PREFIX = "msk_"
DB_NAME = "minisora.db"


@dataclass(frozen=True)
class NewKey:
    id: str
    name: str
    key: str  # the secret; only here, never stored


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(db: Database, name: str) -> NewKey:
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("a key's NAME must be 1 to 100 characters, for example the person or app it is for")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = "key_" + secrets.token_hex(6)
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO keys (id, name, key_hash, created_at) VALUES (?, ?, ?, ?)",
            (key_id, name, hash_key(key), time.time()),
        )
    return NewKey(key_id, name, key)


def find_key(db: Database, key: str) -> str | None:
    """The id of the key with this secret, or None."""
    rows = db.query("SELECT id FROM keys WHERE key_hash = ?", (hash_key(key),))
    return rows[0]["id"] if rows else None


def create_key_in(data: str | Path, name: str) -> NewKey:
    """What `minisora keys create NAME --data DIR` does: the data folder is made if missing."""
    data = Path(data)
    data.mkdir(parents=True, exist_ok=True)
    return create_key(Database(data / DB_NAME), name)
