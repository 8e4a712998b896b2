"""`ServerStore`: users, API keys, teams, projects and permissions over the server's database (either backend).

Every method is one transaction, so several server processes can share one database. The run data (ingest, the
read API) comes in modules of its own beside this one, over the same engine and the same `require()` check.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from . import _keys, _sessions
from ._anonymous import ANONYMOUS_PREFIX
from ._errors import AlreadyExists, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from ._perms import ACTIONS, OWNER, Facts, denial
from ._schema import ROLES, VISIBILITIES, api_keys, entities, memberships, projects, users

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_NAME_RULE = "lowercase letters, digits, '-', '_' and '.', starting with a letter or digit, at most 64"
LAST_USED_EVERY = 60.0  # seconds: how stale a key's last_used_at may get (a write per request would be waste)
NOT_LOGGED_IN = (
    "not logged in: send an API key (`Authorization: Bearer KEY`; `runhive login --host URL KEY` stores one); "
    "an admin makes keys with `runhive server key create USER --db URL`"
)


@dataclass(frozen=True)
class User:
    id: int
    name: str  # also the name of the user's own entity
    entity_id: int
    is_admin: bool


@dataclass(frozen=True)
class Entity:
    id: int
    name: str
    kind: str  # "user" | "team"


@dataclass(frozen=True)
class Project:
    id: int
    entity: str
    name: str
    visibility: str


@dataclass(frozen=True)
class NewKey:
    """A key as created: `key` is shown once and never stored."""

    id: str
    user: str
    key: str


@dataclass(frozen=True)
class KeyInfo:
    id: str
    user: str
    note: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


def check_name(kind: str, name: str) -> str:
    if not _NAME.match(name):
        raise InvalidArgument(
            f"{kind} name {name!r} is not valid: use {_NAME_RULE} (e.g. 'alice', 'vision-team')"
        )
    return name


def check_project_name(name: str) -> str:
    if not name or len(name) > 128 or "/" in name or any(ord(c) < 32 for c in name) or name != name.strip():
        raise InvalidArgument(
            f"project name {name!r} is not valid: 1 to 128 characters, no '/', no control characters, "
            "no leading or trailing spaces"
        )
    return name


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> None:
    """INSERT that does nothing when a unique key already holds the row (two servers creating one thing)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(table).values(**values).on_conflict_do_nothing())


class ServerStore:
    """Users, keys, teams, projects and the permission check, over one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- users and keys ---------------------------------------------------------------------------------------

    def create_user(self, name: str, *, admin: bool = False, anonymous: bool = False) -> tuple[User, NewKey]:
        """A new user, their own entity (same name) and a first API key. `anony-mouse-` names are reserved for
        the anonymous users the server hands out (`_anonymous`)."""
        check_name("user", name)
        if name.startswith(ANONYMOUS_PREFIX) != anonymous:
            raise InvalidArgument(
                f"user name {name!r}: names starting with {ANONYMOUS_PREFIX!r} are reserved for anonymous users; "
                "choose another name"
            )
        now = time.time()
        try:
            with self.engine.begin() as conn:
                self._entity_free(conn, name)
                entity_id = conn.execute(
                    entities.insert().values(name=name, kind="user", created_at=now).returning(entities.c.id)
                ).scalar_one()
                user_id = conn.execute(
                    users.insert()
                    .values(name=name, entity_id=entity_id, is_admin=admin, created_at=now)
                    .returning(users.c.id)
                ).scalar_one()
                user = User(user_id, name, entity_id, admin)
                return user, self._new_key(conn, user, "created with the user", now)
        except IntegrityError:
            raise self._taken(name) from None

    def user(self, name: str) -> User:
        with self.engine.connect() as conn:
            return self._user(conn, name)

    def create_key(self, user: str, note: str = "") -> NewKey:
        with self.engine.begin() as conn:
            return self._new_key(conn, self._user(conn, user), note, time.time())

    def keys(self, user: str) -> list[KeyInfo]:
        with self.engine.connect() as conn:
            u = self._user(conn, user)
            rows = conn.execute(
                select(api_keys).where(api_keys.c.user_id == u.id).order_by(api_keys.c.created_at)
            ).all()
        return [KeyInfo(r.id, u.name, r.note, r.created_at, r.last_used_at, r.revoked_at) for r in rows]

    def revoke_key(self, key_or_id: str) -> tuple[KeyInfo, bool]:
        """Revoke a key given by its id (or the key itself); (the key, whether this call revoked it)."""
        key_id = _keys.key_id_of(key_or_id) or key_or_id.strip()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(api_keys, users.c.name.label("user"))
                .join(users, users.c.id == api_keys.c.user_id)
                .where(api_keys.c.id == key_id)
            ).first()
            if row is None:
                raise NotFound(
                    f"no API key with id {key_id!r}: `runhive server key list USER --db URL` lists them"
                )
            now = time.time()
            fresh = row.revoked_at is None
            if fresh:
                conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now))
        info = KeyInfo(
            row.id, row.user, row.note, row.created_at, row.last_used_at, now if fresh else row.revoked_at
        )
        return info, fresh

    def authenticate(self, key: str | None) -> User:
        """The user whose API key this is; Unauthenticated when there is none, or it is unknown or revoked."""
        if not key:
            raise Unauthenticated(NOT_LOGGED_IN)
        if key.startswith(_sessions.PREFIX):  # the dashboard reads the API as its logged-in user
            return User(*_sessions.session_user(self.engine, key))
        key_id = _keys.key_id_of(key)
        if key_id is None:
            raise Unauthenticated(
                f"invalid API key: runhive keys start with {_keys.PREFIX!r}; check the key you configured "
                "(`runhive login --host URL KEY`)"
            )
        with self.engine.begin() as conn:
            row = conn.execute(
                select(api_keys, users.c.name, users.c.entity_id, users.c.is_admin)
                .join(users, users.c.id == api_keys.c.user_id)
                .where(api_keys.c.id == key_id)
            ).first()
            if row is None or not _keys.matches(key, row.hash):
                raise Unauthenticated(
                    "invalid API key: the server does not know it; check it, or ask an admin for a new one "
                    "(`runhive server key create USER --db URL`)"
                )
            if row.revoked_at is not None:
                raise Unauthenticated(
                    f"invalid API key: key {row.id} of user '{row.name}' was revoked; ask an admin for a new one "
                    f"(`runhive server key create {row.name} --db URL`)"
                )
            now = time.time()
            if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
                conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=now))
        return User(row.user_id, row.name, row.entity_id, bool(row.is_admin))

    # -- teams --------------------------------------------------------------------------------------------------

    def open_session(self, key: str | None) -> tuple[str, User]:
        """A dashboard session (`_sessions`) for the owner of the API key `key`: its token and the user.
        Unauthenticated, with the key check's words, for a missing, unknown or revoked key."""
        if key is not None and key.strip().startswith(_sessions.PREFIX):
            raise Unauthenticated("log in with an API key (rhk_...), not a session token")
        user = self.authenticate(key)
        key_id = _keys.key_id_of(key or "")
        assert key_id is not None  # authenticate() accepted it
        return _sessions.open_session(self.engine, user.id, key_id), user

    def session_user(self, token: str | None) -> User:
        return User(*_sessions.session_user(self.engine, token))

    def close_session(self, token: str | None) -> None:
        _sessions.close_session(self.engine, token)

    def create_team(self, name: str) -> Entity:
        check_name("team", name)
        try:
            with self.engine.begin() as conn:
                self._entity_free(conn, name)
                entity_id = conn.execute(
                    entities.insert()
                    .values(name=name, kind="team", created_at=time.time())
                    .returning(entities.c.id)
                ).scalar_one()
        except IntegrityError:
            raise self._taken(name) from None
        return Entity(entity_id, name, "team")

    def add_member(self, team: str, user: str, role: str) -> str | None:
        """Put `user` in `team` with `role` (or change their role); returns the role they had before, if any."""
        if role not in ROLES:
            raise InvalidArgument(f"role {role!r} is not one of {', '.join(ROLES)}")
        with self.engine.begin() as conn:
            entity = self._team(conn, team)
            u = self._user(conn, user)
            before = conn.execute(
                select(memberships.c.role).where(
                    memberships.c.entity_id == entity.id, memberships.c.user_id == u.id
                )
            ).scalar_one_or_none()
            if before is None:
                conn.execute(
                    memberships.insert().values(
                        entity_id=entity.id, user_id=u.id, role=role, created_at=time.time()
                    )
                )
            elif before != role:
                conn.execute(
                    update(memberships)
                    .where(memberships.c.entity_id == entity.id, memberships.c.user_id == u.id)
                    .values(role=role)
                )
        return before

    def remove_member(self, team: str, user: str) -> bool:
        with self.engine.begin() as conn:
            entity = self._team(conn, team)
            u = self._user(conn, user)
            res = conn.execute(
                memberships.delete().where(
                    memberships.c.entity_id == entity.id, memberships.c.user_id == u.id
                )
            )
        return bool(res.rowcount)

    def viewer(self, user: User) -> dict[str, Any]:
        """What `GET /api/v1/viewer` answers: the user, their entity and their teams with roles."""
        with self.engine.connect() as conn:
            teams = conn.execute(
                select(entities.c.name, memberships.c.role)
                .join(memberships, memberships.c.entity_id == entities.c.id)
                .where(memberships.c.user_id == user.id)
                .order_by(entities.c.name)
            ).all()
        return {
            "name": user.name,
            "entity": user.name,
            "admin": user.is_admin,
            "teams": [{"name": t.name, "role": t.role} for t in teams],
        }

    # -- projects and permissions -------------------------------------------------------------------------------

    def entity(self, name: str) -> Entity:
        with self.engine.connect() as conn:
            return self._entity(conn, name)

    def project(self, entity: str, name: str) -> Project | None:
        with self.engine.connect() as conn:
            return self._project(conn, self._entity(conn, entity), name)

    def ensure_project(self, user: User | None, entity: str, name: str) -> Project:
        """The project, created (private) if it does not exist; `user` must be allowed to write to it."""
        check_project_name(name)
        with self.engine.begin() as conn:
            ent = self._entity(conn, entity)
            self._require(conn, user, ent, name, "write")
            found = self._project(conn, ent, name)
            if found is not None:
                return found
            assert user is not None
            insert_ignore(
                conn,
                projects,
                {
                    "entity_id": ent.id,
                    "name": name,
                    # An anonymous user's results are shared with every logged-in user (W&B's anonymous runs).
                    "visibility": "open" if ent.name.startswith(ANONYMOUS_PREFIX) else "private",
                    "created_by": user.id,
                    "created_at": time.time(),
                },
            )
            made = self._project(conn, ent, name)
        assert made is not None
        return made

    def set_visibility(self, user: User | None, entity: str, name: str, visibility: str) -> Project:
        if visibility not in VISIBILITIES:
            raise InvalidArgument(f"visibility {visibility!r} is not one of {', '.join(VISIBILITIES)}")
        with self.engine.begin() as conn:
            ent = self._entity(conn, entity)
            self._require(conn, user, ent, name, "admin")
            found = self._project(conn, ent, name)
            if found is None:
                raise NotFound(f"project '{entity}/{name}' does not exist: log a run to it first")
            conn.execute(update(projects).where(projects.c.id == found.id).values(visibility=visibility))
        return Project(found.id, found.entity, found.name, visibility)

    def can(self, user: User | None, entity: str, project: str | None, action: str) -> bool:
        """Whether `user` (None: anonymous) may `action` ("read", "write", "admin") on `entity/project` (project
        None: on the entity itself). An entity that does not exist allows nothing."""
        try:
            self.require(user, entity, project, action)
        except (PermissionDenied, Unauthenticated, NotFound):
            return False
        return True

    def require(self, user: User | None, entity: str, project: str | None, action: str) -> None:
        """As `can`, but raises what a caller shows: Unauthenticated, NotFound (entity) or PermissionDenied."""
        with self.engine.connect() as conn:
            self._require(conn, user, self._entity(conn, entity), project, action)

    # -- inside a transaction -----------------------------------------------------------------------------------

    def _require(
        self, conn: Connection, user: User | None, ent: Entity, project: str | None, action: str
    ) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
        if user is None:
            raise Unauthenticated(NOT_LOGGED_IN)
        if ent.kind == "user":
            role = OWNER if ent.id == user.entity_id else None
        else:
            role = conn.execute(
                select(memberships.c.role).where(
                    memberships.c.entity_id == ent.id, memberships.c.user_id == user.id
                )
            ).scalar_one_or_none()
        found = self._project(conn, ent, project) if project is not None else None
        facts = Facts(
            user=user.name,
            is_admin=user.is_admin,
            entity=ent.name,
            entity_kind=ent.kind,
            role=role,
            project=project,
            visibility=found.visibility if found is not None else None,
        )
        message = denial(action, facts)
        if message is not None:
            raise PermissionDenied(message)

    def _new_key(self, conn: Connection, user: User, note: str, now: float) -> NewKey:
        key_id, key, hashed = _keys.new_key()
        conn.execute(
            api_keys.insert().values(id=key_id, user_id=user.id, hash=hashed, note=note, created_at=now)
        )
        return NewKey(key_id, user.name, key)

    def _user(self, conn: Connection, name: str) -> User:
        row = conn.execute(select(users).where(users.c.name == name)).first()
        if row is None:
            raise NotFound(
                f"user '{name}' does not exist: `runhive server user create {name} --db URL` makes it"
            )
        return User(row.id, row.name, row.entity_id, bool(row.is_admin))

    def _entity(self, conn: Connection, name: str) -> Entity:
        row = conn.execute(select(entities).where(entities.c.name == name)).first()
        if row is None:
            raise NotFound(
                f"entity '{name}' does not exist: an entity is a user's name or a team's; check the name, or make "
                f"the team with `runhive server team create {name} --db URL`"
            )
        return Entity(row.id, row.name, row.kind)

    def _team(self, conn: Connection, name: str) -> Entity:
        ent = self._entity(conn, name)
        if ent.kind != "team":
            raise InvalidArgument(
                f"'{name}' is a user's own entity, not a team: teams are made with `team create`"
            )
        return ent

    def _project(self, conn: Connection, ent: Entity, name: str) -> Project | None:
        row = conn.execute(
            select(projects).where(projects.c.entity_id == ent.id, projects.c.name == name)
        ).first()
        return None if row is None else Project(row.id, ent.name, row.name, row.visibility)

    def _entity_free(self, conn: Connection, name: str) -> None:
        if conn.execute(select(entities.c.kind).where(entities.c.name == name)).first() is not None:
            raise self._taken(name)

    @staticmethod
    def _taken(name: str) -> AlreadyExists:
        return AlreadyExists(
            f"entity '{name}' exists already: users and teams share one namespace of names; choose another name"
        )
