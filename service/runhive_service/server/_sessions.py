"""Dashboard sessions: a browser logs in once with an API key and then carries a session token in a cookie.

Tokens are `rhs_<id>_<secret>`, made and checked like API keys (`_keys`: a 256-bit secret, only its sha256 kept,
compared in constant time). A session row names the API key it was opened with, so revoking that key ends every
session it opened; a session also ends when it expires (`SESSION_SECONDS`) or its user logs out. Sessions are rows
in the database, so any replica behind a load balancer accepts a cookie another replica set.

The token is accepted where an API key is (`ServerStore.authenticate` hands `rhs_` tokens here): the dashboard
reads the read API as the logged-in user with it. The cookie itself is read only by the dashboard's pages
(`_dashboard`), never by the API routes, so a cross-site request cannot ride it (it is also `SameSite=Strict`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import NamedTuple

from sqlalchemy import Engine, delete, select

from ._errors import Unauthenticated
from ._schema import api_keys, sessions, users

PREFIX = "rhs_"
COOKIE = "runhive_session"
SESSION_SECONDS = 7 * 24 * 3600  # a week, then the browser asks for the key again
_TOKEN = re.compile(r"^rhs_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$")
EXPIRED = "your dashboard session ended (expired, logged out, or its API key was revoked): log in again"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionUser(NamedTuple):
    """The user row a live session belongs to (`_store.User` is made from it: this module sits below `_store`)."""

    id: int
    name: str
    entity_id: int
    is_admin: bool


def open_session(engine: Engine, user_id: int, key_id: str, seconds: float = SESSION_SECONDS) -> str:
    """A new session token for `user_id`, opened with the API key `key_id` (the caller checked that key)."""
    session_id = secrets.token_hex(6)
    token = f"{PREFIX}{session_id}_{secrets.token_urlsafe(32)}"
    now = time.time()
    with engine.begin() as conn:
        conn.execute(
            sessions.insert().values(
                id=session_id,
                user_id=user_id,
                key_id=key_id,
                hash=_digest(token),
                created_at=now,
                expires_at=now + seconds,
            )
        )
        # Old sessions of anyone go when someone logs in: the table holds live sessions only, without a sweeper.
        conn.execute(delete(sessions).where(sessions.c.expires_at < now))
    return token


def session_user(engine: Engine, token: str | None) -> SessionUser:
    """The user of a live session token; Unauthenticated otherwise."""
    token = (token or "").strip()
    m = _TOKEN.match(token)
    if m is None:
        raise Unauthenticated(EXPIRED if token else "not logged in: open /login and enter your API key")
    with engine.connect() as conn:
        row = conn.execute(
            select(
                sessions.c.hash,
                sessions.c.expires_at,
                users.c.id,
                users.c.name,
                users.c.entity_id,
                users.c.is_admin,
            )
            .join(users, users.c.id == sessions.c.user_id)
            .join(api_keys, api_keys.c.id == sessions.c.key_id)
            .where(sessions.c.id == m.group(1), api_keys.c.revoked_at.is_(None))
        ).first()
    if row is None or not hmac.compare_digest(_digest(token), row.hash) or row.expires_at < time.time():
        raise Unauthenticated(EXPIRED)
    return SessionUser(row.id, row.name, row.entity_id, bool(row.is_admin))


def close_session(engine: Engine, token: str | None) -> None:
    """End the session (logout); nothing for a token that is not a live session."""
    m = _TOKEN.match((token or "").strip())
    if m is None or token is None:
        return
    with engine.begin() as conn:
        row = conn.execute(select(sessions.c.hash).where(sessions.c.id == m.group(1))).first()
        if row is not None and hmac.compare_digest(_digest(token.strip()), row.hash):
            conn.execute(delete(sessions).where(sessions.c.id == m.group(1)))
