"""API keys: `rhk_<id>_<secret>`, with a 12-character hex id (the row to look up, and what `key revoke` takes)
and a 256-bit `secrets.token_urlsafe(32)` secret. The server keeps only the sha256 of the whole key: a key this
random needs no slow hash, and the lookup by id plus `hmac.compare_digest` of the digests leaks nothing through
timing. The recognisable prefix lets secret scanners find leaked keys; the client never checks a key's length."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

PREFIX = "rhk_"
_KEY = re.compile(r"^rhk_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$")


def new_key() -> tuple[str, str, str]:
    """A fresh key: (key id, the key to show once, its digest to store)."""
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    return key_id, key, digest(key)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(key: str) -> str | None:
    """The id inside a well-formed key, or None."""
    m = _KEY.match(key.strip())
    return m.group(1) if m else None


def matches(key: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(key.strip()), stored_digest)
