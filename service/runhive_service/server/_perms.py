"""Who may do what, as W&B users know it: the rules alone, over plain facts, so they are tested as a table.

- Entities are users (each has their own, named like them) and teams. A project belongs to one entity.
- On its own entity a user may do everything; on a team, `admin` may do everything, `member` read and write,
  `viewer` only read. A server admin (`user create --admin`) may do everything everywhere.
- A project's visibility widens that to users outside the entity: `private` (a new project's default) adds no one;
  `team` lets every logged-in user of the server read it; `open` lets every logged-in user read and write it.
  Nobody outside the entity administers a project (changes its visibility, deletes it).
- A project that does not exist yet reads as a new private one: members may read it (empty) and write it (writing
  creates it); anyone else is refused with the same words as for an existing private project.
- Anonymous callers (no API key) may do nothing.

Denials are messages that name the user, the entity/project and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

ACTIONS = ("read", "write", "admin")
OWNER = "owner"  # the role a user has on their own entity
_RANK = {"viewer": 0, "member": 1, "admin": 2, OWNER: 3}
_NEEDS = {"read": 0, "write": 1, "admin": 2}


@dataclass(frozen=True)
class Facts:
    """What a decision depends on."""

    user: str  # the caller's user name
    is_admin: bool  # a server admin
    entity: str
    entity_kind: str  # "user" | "team"
    role: str | None  # OWNER, "admin", "member", "viewer", or None (not in the entity)
    project: str | None  # None: the entity itself (its project list, a new project, the team)
    visibility: str | None  # None: the project does not exist (it would be created private)


def denial(action: str, f: Facts) -> str | None:
    """None when `f.user` may do `action`; otherwise the message that says why not and how to fix it."""
    if action not in _NEEDS:
        raise ValueError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
    if f.is_admin:
        return None
    need = _NEEDS[action]
    if f.role is not None and _RANK[f.role] >= need:
        return None
    visibility = f.visibility or "private"
    if f.project is not None and (
        (action == "read" and visibility in ("team", "open")) or (action == "write" and visibility == "open")
    ):
        return None
    return _message(action, f, visibility)


def _owner_phrase(f: Facts) -> str:
    return f"its owner '{f.entity}'" if f.entity_kind == "user" else f"an admin of team '{f.entity}'"


def _message(action: str, f: Facts, visibility: str) -> str:
    who = f"user '{f.user}'"
    if f.project is None:
        what = {"read": f"read entity '{f.entity}'", "write": f"create projects in '{f.entity}'"}.get(
            action, f"administer '{f.entity}'"
        )
        fix = (
            f"log to your own entity '{f.user}' instead"
            if f.entity_kind == "user"
            else f"ask an admin of team '{f.entity}' to add you as a member"
        )
        if f.role == "viewer" and action == "write":
            fix = f"you are a viewer of team '{f.entity}': ask a team admin to make you a member"
        return f"permission denied: {who} may not {what}; {fix}"
    path = f"'{f.entity}/{f.project}'"
    label = visibility if f.visibility is not None else "private: a new project is private"
    if action == "admin":
        return (
            f"permission denied: {who} may not administer {path}; only {_owner_phrase(f)} may "
            "(change its visibility, delete it)"
        )
    if f.role == "viewer":
        return (
            f"permission denied: {who} is a viewer of team '{f.entity}' and may not write to {path} ({label}); "
            f"ask an admin of team '{f.entity}' to make you a member or to set the project to Open"
        )
    verb = "read" if action == "read" else "write to"
    opening = "Team or Open" if action == "read" else "Open"
    if f.entity_kind == "user":
        fix = f"ask its owner '{f.entity}' to set the project to {opening}"
    else:
        fix = f"ask its owner (an admin of team '{f.entity}') to set the project to {opening} or add you to the team"
    return f"permission denied: {who} may not {verb} {path} ({label}); {fix}"
