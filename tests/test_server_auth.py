"""Users, API keys, teams and permissions of the team server, on SQLite and a real PostgreSQL 15: keys stored only
as digests and revocable, and W&B's permission rules as a table (owner, team admin/member/viewer, outsider,
server admin by private/team/open/not-yet-created projects by read/write/admin), with the messages users see."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from _pg import server_db
from runhive_service.server import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ServerStore,
    Unauthenticated,
    User,
    migrate,
    open_engine,
)
from runhive_service.server._schema import api_keys

__all__ = ["server_db"]  # the fixture, imported from _pg


@pytest.fixture
def store(server_db: str) -> Iterator[ServerStore]:
    engine = open_engine(server_db)
    migrate(engine)
    try:
        yield ServerStore(engine)
    finally:
        engine.dispose()


def test_keys_are_stored_as_digests_shown_once_and_revocable(store: ServerStore) -> None:
    user, key = store.create_user("alice")
    assert key.key.startswith(f"rhk_{key.id}_") and len(key.key) >= 4 + 12 + 1 + 43
    with store.engine.connect() as conn:
        rows = conn.execute(select(api_keys)).all()
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0])
    assert key.key not in stored and key.key.split("_", 2)[2] not in stored, "the secret is never stored"
    assert rows[0].hash == hashlib.sha256(key.key.encode()).hexdigest()

    assert store.authenticate(key.key) == user
    assert store.authenticate(f"  {key.key}\n") == user, "whitespace around a pasted key is forgiven"
    assert store.keys("alice")[0].last_used_at is not None

    second = store.create_key("alice", "laptop")
    assert second.key != key.key and store.authenticate(second.key) == user
    forged = key.key[:-2] + ("AA" if not key.key.endswith("AA") else "BB")
    with pytest.raises(Unauthenticated, match="the server does not know it"):
        store.authenticate(forged)
    with pytest.raises(Unauthenticated, match="runhive keys start with 'rhk_'"):
        store.authenticate("0123456789abcdef0123456789abcdef01234567")  # a W&B-style key
    with pytest.raises(Unauthenticated, match="not logged in"):
        store.authenticate(None)

    info, fresh = store.revoke_key(key.id)
    assert fresh and info.revoked_at is not None and info.user == "alice"
    with pytest.raises(Unauthenticated, match=f"key {key.id} of user 'alice' was revoked"):
        store.authenticate(key.key)
    assert store.authenticate(second.key) == user, "revoking one key leaves the others"
    _, fresh = store.revoke_key(second.key)  # by the key itself
    assert fresh
    assert store.revoke_key(key.id)[1] is False, "revoking twice is not an error"
    with pytest.raises(NotFound, match="no API key with id 'ffffffffffff'"):
        store.revoke_key("ffffffffffff")
    assert [k.revoked_at is not None for k in store.keys("alice")] == [True, True]


def test_names_are_one_namespace_and_checked(store: ServerStore) -> None:
    store.create_user("alice")
    store.create_team("vision")
    with pytest.raises(AlreadyExists, match="entity 'alice' exists already"):
        store.create_team("alice")
    with pytest.raises(AlreadyExists, match="entity 'vision' exists already"):
        store.create_user("vision")
    for bad in ("Alice", "a/b", "", "-x", "x" * 65, "bob smith"):
        with pytest.raises(InvalidArgument, match="is not valid"):
            store.create_user(bad)
    with pytest.raises(InvalidArgument, match="'alice' is a user's own entity, not a team"):
        store.add_member("alice", "alice", "member")
    with pytest.raises(NotFound, match="user 'nobody' does not exist"):
        store.add_member("vision", "nobody", "member")
    with pytest.raises(InvalidArgument, match="role 'owner' is not one of admin, member, viewer"):
        store.add_member("vision", "alice", "owner")
    assert store.add_member("vision", "alice", "viewer") is None
    assert store.add_member("vision", "alice", "member") == "viewer"
    assert store.viewer(store.user("alice"))["teams"] == [{"name": "vision", "role": "member"}]
    assert store.remove_member("vision", "alice") and not store.remove_member("vision", "alice")


# Who may do what, written out rather than derived from the code under test. Per role: the actions allowed on a
# project of each visibility ("new": a project that does not exist yet), and on the entity itself (None).
R, RW, RWA, NONE = "r", "rw", "rwa", ""
EXPECTED = {
    "owner": {"private": RWA, "team": RWA, "open": RWA, "new": RWA, None: RWA},
    "admin": {"private": RWA, "team": RWA, "open": RWA, "new": RWA, None: RWA},
    "member": {"private": RW, "team": RW, "open": RW, "new": RW, None: RW},
    "viewer": {"private": R, "team": R, "open": RW, "new": R, None: R},
    "outsider": {"private": NONE, "team": R, "open": RW, "new": NONE, None: NONE},
    "server-admin": {"private": RWA, "team": RWA, "open": RWA, "new": RWA, None: RWA},
}
LETTER = {"read": "r", "write": "w", "admin": "a"}


def _world(store: ServerStore) -> dict[str, User]:
    people = {}
    for name in ("alice", "tom", "mia", "vic", "bob"):
        people[name] = store.create_user(name)[0]
    people["root"] = store.create_user("root", admin=True)[0]
    store.create_team("vision")
    store.add_member("vision", "tom", "admin")
    store.add_member("vision", "mia", "member")
    store.add_member("vision", "vic", "viewer")
    for entity, owner in (("alice", people["alice"]), ("vision", people["mia"])):
        for vis in ("private", "team", "open"):
            project = store.ensure_project(owner, entity, vis)
            assert project.visibility == "private", "a new project is private"
            if vis != "private":
                store.set_visibility(
                    people["alice"] if entity == "alice" else people["tom"], entity, vis, vis
                )
    return people


def test_permission_matrix(store: ServerStore) -> None:
    people = _world(store)
    roles = {
        "alice": {"alice": "owner", "vision": "outsider"},
        "tom": {"alice": "outsider", "vision": "admin"},
        "mia": {"alice": "outsider", "vision": "member"},
        "vic": {"alice": "outsider", "vision": "viewer"},
        "bob": {"alice": "outsider", "vision": "outsider"},
        "root": {"alice": "server-admin", "vision": "server-admin"},
    }
    checked = 0
    wrong = []
    for name, user in people.items():
        for entity in ("alice", "vision"):
            role = roles[name][entity]
            for project in ("private", "team", "open", "new", None):
                for action, letter in LETTER.items():
                    expected = letter in EXPECTED[role][project]
                    got = store.can(user, entity, project, action)
                    checked += 1
                    if got != expected:
                        wrong.append(
                            f"{name} ({role}) {action} {entity}/{project}: {got}, expected {expected}"
                        )
    assert not wrong, "\n".join(wrong)
    assert checked == 6 * 2 * 5 * 3
    assert not store.can(None, "alice", "open", "read"), "anonymous callers may do nothing"
    assert not store.can(people["bob"], "nobody", "x", "read"), "an entity that does not exist allows nothing"


def test_denials_name_the_user_the_project_and_the_fix(store: ServerStore) -> None:
    people = _world(store)
    bob, vic, mia = people["bob"], people["vic"], people["mia"]

    def denied(user: User | None, entity: str, project: str | None, action: str) -> str:
        with pytest.raises((PermissionDenied, Unauthenticated, NotFound)) as info:
            store.require(user, entity, project, action)
        return str(info.value)

    assert denied(bob, "alice", "private", "write") == (
        "permission denied: user 'bob' may not write to 'alice/private' (private); "
        "ask its owner 'alice' to set the project to Open"
    )
    assert denied(bob, "vision", "team", "write") == (
        "permission denied: user 'bob' may not write to 'vision/team' (team); "
        "ask its owner (an admin of team 'vision') to set the project to Open or add you to the team"
    )
    assert denied(bob, "vision", "private", "read") == (
        "permission denied: user 'bob' may not read 'vision/private' (private); "
        "ask its owner (an admin of team 'vision') to set the project to Team or Open or add you to the team"
    )
    assert "(private: a new project is private)" in denied(bob, "alice", "cifar", "write")
    assert denied(vic, "vision", "private", "write") == (
        "permission denied: user 'vic' is a viewer of team 'vision' and may not write to 'vision/private' "
        "(private); ask an admin of team 'vision' to make you a member or to set the project to Open"
    )
    assert denied(mia, "vision", "open", "admin") == (
        "permission denied: user 'mia' may not administer 'vision/open'; only an admin of team 'vision' may "
        "(change its visibility, delete it)"
    )
    assert denied(bob, "alice", None, "write") == (
        "permission denied: user 'bob' may not create projects in 'alice'; log to your own entity 'bob' instead"
    )
    assert denied(None, "alice", "open", "read").startswith("not logged in: send an API key")
    assert denied(bob, "nobody", "x", "read").startswith("entity 'nobody' does not exist")
    with pytest.raises(PermissionDenied, match="may not administer 'alice/open'"):
        store.set_visibility(bob, "alice", "open", "private")
    with pytest.raises(PermissionDenied, match="may not write to 'alice/fresh'"):
        store.ensure_project(bob, "alice", "fresh")
    assert store.project("alice", "fresh") is None, "a refused write creates nothing"
    with pytest.raises(InvalidArgument, match="visibility 'public' is not one of private, team, open"):
        store.set_visibility(people["alice"], "alice", "open", "public")
    # An open project: any logged-in user writes (and so creates runs), still nobody outside administers it.
    store.require(bob, "alice", "open", "write")
    assert store.ensure_project(bob, "alice", "open").visibility == "open"


def test_replicas_creating_one_project_at_once_get_the_same_one(store: ServerStore) -> None:
    """Eight threads (as eight server replicas would) log to one new project at once: one project, no error."""
    from concurrent.futures import ThreadPoolExecutor

    user, _ = store.create_user("alice")
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda _: store.ensure_project(user, "alice", "cifar"), range(8)))
    assert len({p.id for p in made}) == 1 and made[0].visibility == "private"
