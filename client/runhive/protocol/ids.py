"""Run ids: 8 characters of [a-z0-9] when generated; W&B's rules when given."""

from __future__ import annotations

import os
import string

from runhive.errors import UsageError

_ALPHABET = string.ascii_lowercase + string.digits
_FORBIDDEN = ":;,#?/'"


def generate_id(length: int = 8) -> str:
    # os.urandom, not `secrets`: the same entropy without importing hmac and hashlib (~5 ms) on every init().
    # Bytes of 252 and up are dropped, so every character is equally likely (252 = 7 x 36).
    out: list[str] = []
    while len(out) < length:
        out.extend(_ALPHABET[b % 36] for b in os.urandom(length) if b < 252)
    return "".join(out[:length])


def validate_id(run_id: object) -> str:
    if not isinstance(run_id, str):
        raise UsageError(f"Run ID (id=) must be a string, got {type(run_id).__name__} {run_id!r}.")
    if run_id == "":
        raise UsageError("Run ID cannot be empty")
    if run_id.strip() == "":
        raise UsageError("Run ID cannot contain only whitespace")
    if run_id != run_id.strip():
        raise UsageError("Run ID cannot start or end with whitespace")
    if any(c in _FORBIDDEN for c in run_id):
        raise UsageError(f"Run ID cannot contain the characters: {_FORBIDDEN}")
    if len(run_id) > 128:
        raise UsageError(f"Run ID {run_id[:20]!r}... is {len(run_id)} characters; use at most 128.")
    return run_id
