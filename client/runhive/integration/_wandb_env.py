"""`wandb.env` under the alias: W&B's environment variable names and the helpers libraries call
(transformers' hyper-parameter search calls `wandb.env.set_project` / `set_entity` before `wandb.agent`).
runhive reads the same `WANDB_*` variables (README, "Settings and environment"), so setting them here has
the effect it has with W&B."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import MutableMapping

CONFIG_PATHS = "WANDB_CONFIG_PATHS"
SWEEP_PARAM_PATH = "WANDB_SWEEP_PARAM_PATH"
SHOW_RUN = "WANDB_SHOW_RUN"
DEBUG = "WANDB_DEBUG"
SILENT = "WANDB_SILENT"
QUIET = "WANDB_QUIET"
INITED = "WANDB_INITED"
DIR = "WANDB_DIR"
DESCRIPTION = "WANDB_DESCRIPTION"
NAME = "WANDB_NAME"
NOTEBOOK_NAME = "WANDB_NOTEBOOK_NAME"
NOTES = "WANDB_NOTES"
USERNAME = "WANDB_USERNAME"
USER_EMAIL = "WANDB_USER_EMAIL"
PROJECT = "WANDB_PROJECT"
ENTITY = "WANDB_ENTITY"
ORGANIZATION = "WANDB_ORGANIZATION"
BASE_URL = "WANDB_BASE_URL"
APP_URL = "WANDB_APP_URL"
PROGRAM = "WANDB_PROGRAM"
ARGS = "WANDB_ARGS"
MODE = "WANDB_MODE"
RESUME = "WANDB_RESUME"
RUN_ID = "WANDB_RUN_ID"
RUN_GROUP = "WANDB_RUN_GROUP"
RUN_DIR = "WANDB_RUN_DIR"
SWEEP_ID = "WANDB_SWEEP_ID"
API_KEY = "WANDB_API_KEY"
JOB_TYPE = "WANDB_JOB_TYPE"
DISABLE_CODE = "WANDB_DISABLE_CODE"
DISABLE_GIT = "WANDB_DISABLE_GIT"
SAVE_CODE = "WANDB_SAVE_CODE"
TAGS = "WANDB_TAGS"
IGNORE = "WANDB_IGNORE_GLOBS"
HOST = "WANDB_HOST"
ANONYMOUS = "WANDB_ANONYMOUS"
CONFIG_DIR = "WANDB_CONFIG_DIR"
DATA_DIR = "WANDB_DATA_DIR"
ARTIFACT_DIR = "WANDB_ARTIFACT_DIR"
CACHE_DIR = "WANDB_CACHE_DIR"
INIT_TIMEOUT = "WANDB_INIT_TIMEOUT"
START_METHOD = "WANDB_START_METHOD"

Env = MutableMapping[str, str]


def _env(env: Env | None) -> Env:
    return os.environ if env is None else env


def strtobool(val: str) -> bool:
    v = val.lower()
    if v in ("y", "yes", "t", "true", "on", "1"):
        return True
    if v in ("n", "no", "f", "false", "off", "0"):
        return False
    raise ValueError(f"invalid truth value {val!r}")


def _as_bool(var: str, default: str | None = None, env: Env | None = None) -> bool:
    val = _env(env).get(var, default)
    if not isinstance(val, str):
        return False
    try:
        return strtobool(val)
    except ValueError:
        return False


def is_debug(default: str | None = None, env: Env | None = None) -> bool:
    return _as_bool(DEBUG, default, env)


def is_offline(env: Env | None = None) -> bool:
    return _env(env).get(MODE) == "offline"


def is_quiet() -> bool:
    return _as_bool(QUIET, "false")


def is_silent() -> bool:
    return _as_bool(SILENT, "false")


def get_run(default: str | None = None, env: Env | None = None) -> str | None:
    return _env(env).get(RUN_ID, default)


def get_args(default: list[str] | None = None, env: Env | None = None) -> list[str] | None:
    raw = _env(env).get(ARGS)
    if raw:
        try:
            return list(json.loads(raw))
        except ValueError:
            return None
    return default or sys.argv[1:]


def get_project(default: str | None = None, env: Env | None = None) -> str | None:
    return _env(env).get(PROJECT, default)


def get_entity(default: str | None = None, env: Env | None = None) -> str | None:
    return _env(env).get(ENTITY, default)


def get_username(default: str | None = None, env: Env | None = None) -> str | None:
    return _env(env).get(USERNAME, default)


def get_user_email(default: str | None = None, env: Env | None = None) -> str | None:
    return _env(env).get(USER_EMAIL, default)


def get_base_url(default: str | None = None, env: Env | None = None) -> str | None:
    return _env(env).get(BASE_URL, default)


def get_app_url(default: str | None = None, env: Env | None = None) -> str | None:
    return _env(env).get(APP_URL, default)


def get_description(default: str | None = None, env: Env | None = None) -> str | None:
    return _env(env).get(DESCRIPTION, default)


def get_tags(default: str = "", env: Env | None = None) -> list[str]:
    return [t for t in _env(env).get(TAGS, default).split(",") if t]


def get_dir(default: str | None = None, env: Env | None = None) -> str | None:
    return _env(env).get(DIR, default)


def get_ignore(default: list[str] | None = None, env: Env | None = None) -> list[str] | None:
    raw = _env(env).get(IGNORE)
    return raw.split(",") if raw is not None else default


def get_data_dir(env: Env | None = None) -> str:
    return _env(env).get(DATA_DIR) or os.path.expanduser("~/.local/share/runhive")


def get_artifact_dir(env: Env | None = None) -> str:
    return _env(env).get(ARTIFACT_DIR) or os.path.join(".", "artifacts")


def set_entity(value: str, env: Env | None = None) -> None:
    _env(env)[ENTITY] = value


def set_project(value: str, env: Env | None = None) -> None:
    _env(env)[PROJECT] = value or "uncategorized"


def should_save_code() -> bool:
    return _as_bool(SAVE_CODE, "False") and not _as_bool(DISABLE_CODE, "False")


def disable_git(env: Env | None = None) -> bool:
    return _as_bool(DISABLE_GIT, "False", env)


# What the shim `wandb.env` carries: every public name above (W&B's constants and helpers).
_IMPORTED = {"annotations", "json", "os", "sys", "Any", "MutableMapping", "Env"}
__all__ = sorted(n for n in list(globals()) if not n.startswith("_") and n not in _IMPORTED)
