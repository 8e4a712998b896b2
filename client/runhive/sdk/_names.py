"""Project and entity names as W&B accepts them (`wandb_settings.validate_project`): they appear in run paths
("entity/project/id") and URLs, so the characters that separate or quote those are refused."""

from __future__ import annotations

from runhive.errors import UsageError

FORBIDDEN = "/\\#?%:"
MAX_PROJECT_LENGTH = 128


def validate_name(what: str, value: object) -> str:
    """`value` if it is a usable `what` ("project" or "entity") name, else a UsageError saying why and what to
    pass instead."""
    if not isinstance(value, str):
        raise UsageError(f"{what} must be a string, got {type(value).__name__} {value!r}.")
    found = [c for c in FORBIDDEN if c in value]
    if found:
        fixed = value
        for c in found:
            fixed = fixed.replace(c, "-")
        chars = " ".join(repr(c) for c in found)
        raise UsageError(
            f"Invalid {what} name {value!r}: it contains {chars}; {what} names cannot contain any of "
            f"{' '.join(FORBIDDEN)} (they separate the parts of a run path 'entity/project/id'). "
            f"Pass {what}= a name without them, e.g. {what}={fixed!r}."
        )
    if what == "project" and len(value) > MAX_PROJECT_LENGTH:
        raise UsageError(
            f"Invalid project name {value[:20]!r}...: it is {len(value)} characters; "
            f"pass project= a name of at most {MAX_PROJECT_LENGTH} characters."
        )
    return value
