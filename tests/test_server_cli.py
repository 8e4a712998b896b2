"""`runhive server user|team|key|db ...`, the admin commands straight on the database, run as the real CLI
(`python -m runhive.cli._main server ...`) against SQLite and a real PostgreSQL 15."""

from __future__ import annotations

import subprocess
import sys

from _pg import server_db
from runhive_service.server import ServerStore, Unauthenticated, open_engine

__all__ = ["server_db"]  # the fixture, imported from _pg


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        [sys.executable, "-m", "runhive.cli._main", "server", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and res.returncode != 0:
        raise AssertionError(
            f"runhive server {' '.join(args)} failed ({res.returncode}):\n{res.stdout}{res.stderr}"
        )
    return res


def test_admin_commands_make_users_teams_and_keys(server_db: str) -> None:
    db = ("--db", server_db)
    out = cli("user", "create", "alice", "--admin", *db).stdout.splitlines()
    alice_key = out[-1]
    assert out[0] == "created user 'alice' (entity 'alice'), a server admin"
    assert alice_key.startswith("rhk_") and alice_key not in "\n".join(out[:-1])

    # --db before the subcommand works too
    assert cli(*db, "team", "create", "vision").stdout.startswith("created team 'vision'")
    bob_key = cli("user", "create", "bob", *db).stdout.splitlines()[-1]
    assert cli("team", "add", "vision", "bob", "--role", "viewer", *db).stdout.strip() == (
        "added 'bob' to team 'vision' as viewer"
    )
    second = cli("key", "create", "bob", *db).stdout.splitlines()
    second_id = second[0].split()[2]
    assert second[-1].startswith(f"rhk_{second_id}_")
    assert cli("key", "revoke", second_id, *db).stdout.strip() == f"revoked API key {second_id} of user 'bob'"
    listing = cli("key", "list", "bob", *db).stdout.splitlines()
    assert len(listing) == 3 and listing[0].split() == ["id", "created", "last", "used", "revoked", "note"]
    assert any(line.startswith(second_id) and line.count("-") >= 4 for line in listing[1:])

    engine = open_engine(server_db)
    try:
        store = ServerStore(engine)
        alice = store.authenticate(alice_key)
        assert (alice.name, alice.is_admin) == ("alice", True)
        bob = store.authenticate(bob_key)
        assert (bob.name, bob.is_admin) == ("bob", False)
        assert store.viewer(bob)["teams"] == [{"name": "vision", "role": "viewer"}]
        try:
            store.authenticate(second[-1])
        except Unauthenticated as exc:
            assert "was revoked" in str(exc)
        else:
            raise AssertionError("a revoked key still authenticates")
        assert store.can(bob, "vision", "x", "read") and not store.can(bob, "vision", "x", "write")
    finally:
        engine.dispose()

    taken = cli("team", "create", "alice", *db, check=False)
    assert taken.returncode == 2
    assert taken.stderr.strip().endswith(
        "runhive: entity 'alice' exists already: users and teams share one namespace of names; choose another name"
    )
    missing = cli("team", "add", "vision", "carol", "--role", "member", *db, check=False)
    assert missing.returncode == 2 and "user 'carol' does not exist" in missing.stderr


def test_admin_commands_say_what_is_missing() -> None:
    res = cli("user", "create", "alice", check=False)
    assert res.returncode == 2 and "runhive server needs --db URL" in res.stderr
    res = cli("user", "create", "alice", "--db", "mysql://x@y/z", check=False)
    assert res.returncode == 2 and "is not a database runhive server can use" in res.stderr
    res = cli("team", "add", "vision", "bob", "--role", "owner", "--db", "sqlite:///x.db", check=False)
    assert res.returncode == 2 and "invalid choice: 'owner'" in res.stderr


def test_the_cli_imports_the_server_only_when_a_server_command_runs() -> None:
    code = (
        "import sys, runhive, runhive.cli._main as m; m.build_parser(); "
        "print(sorted(n for n in ('sqlalchemy', 'alembic', 'psycopg', 'runhive_service.server') if n in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
