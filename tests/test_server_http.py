"""A real `runhive server` process on a free port, over SQLite and a real PostgreSQL 15: `/healthz`, and
`/api/v1/viewer` with a good, a wrong, a malformed, a missing and a revoked API key (revoked by the admin CLI
while the server runs: no server caches a key)."""

from __future__ import annotations

import subprocess
import sys

from _pg import ServerProcess, http, server_db
from runhive_service.server import ServerStore, head_revision, migrate, open_engine

__all__ = ["server_db"]  # the fixture, imported from _pg


def test_viewer_answers_for_the_key_and_refuses_the_rest(server_db: str) -> None:
    engine = open_engine(server_db)
    try:
        migrate(engine)
        store = ServerStore(engine)
        _, key = store.create_user("alice", admin=True)
        store.create_team("vision")
        store.add_member("vision", "alice", "admin")
    finally:
        engine.dispose()

    server = ServerProcess(server_db)
    try:
        url = server.wait_ready()
        assert url.startswith("http://127.0.0.1:")
        assert http(url + "healthz")[:2] == (200, {"ok": True, "schema": head_revision()})

        status, body, _ = http(url + "api/v1/viewer", key.key)
        assert status == 200
        assert body == {
            "name": "alice",
            "entity": "alice",
            "admin": True,
            "teams": [{"name": "vision", "role": "admin"}],
        }

        status, body, headers = http(url + "api/v1/viewer")
        assert (
            status == 401 and body["code"] == "UNAUTHENTICATED" and body["error"].startswith("not logged in")
        )
        assert headers.get("www-authenticate", headers.get("WWW-Authenticate", "")).startswith("Bearer")
        assert http(url + "api/v1/viewer", header=f"Basic {key.key}")[0] == 401
        status, body, _ = http(url + "api/v1/viewer", key.key[:-3] + "xyz")
        assert status == 401 and "the server does not know it" in body["error"]
        status, body, _ = http(url + "api/v1/viewer", "not-a-key")
        assert status == 401 and "runhive keys start with 'rhk_'" in body["error"]

        revoke = subprocess.run(
            [sys.executable, "-m", "runhive.cli._main", "server", "key", "revoke", key.id, "--db", server_db],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert revoke.returncode == 0, revoke.stderr
        status, body, _ = http(url + "api/v1/viewer", key.key)
        assert status == 401 and f"key {key.id} of user 'alice' was revoked" in body["error"]

        status, body, _ = http(url + "api/v1/nothing-here", key.key)
        assert (status, body["code"]) == (404, "NOT_FOUND")
    finally:
        code = server.stop()
    assert code == 0, server.lines
