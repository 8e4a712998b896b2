"""`Settings`: the one settings object, and where every path runhive uses comes from.

Precedence, lowest first: defaults, settings file, environment, `runhive.setup(settings)`,
`init(settings=...)`, explicit `init()` arguments. `RUNHIVE_*` variables win over the `WANDB_*` ones
of the W&B docs; W&B's credentials and endpoints are never read.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from runhive.errors import UsageError

_MODES = ("online", "offline", "disabled")
_MODE_ALIASES = {"dryrun": "offline", "run": "online", "shared": "online"}

# setting name -> environment variable suffixes, RUNHIVE_ first then WANDB_.
_ENV: dict[str, tuple[str, ...]] = {
    "mode": ("MODE",),
    "project": ("PROJECT",),
    "entity": ("ENTITY",),
    "run_name": ("NAME",),
    "run_id": ("RUN_ID",),
    "run_notes": ("NOTES",),
    "run_group": ("RUN_GROUP",),
    "run_job_type": ("JOB_TYPE",),
    "run_tags": ("TAGS",),
    "reinit": ("REINIT",),
    "root_dir": ("DIR",),
    "resume": ("RESUME",),
    "disable_code": ("DISABLE_CODE",),
    "silent": ("SILENT",),
    "service_dir": ("SERVICE_DIR",),
    "data_dir": ("DATA_DIR",),
    "service_idle_timeout": ("SERVICE_IDLE_TIMEOUT",),
    "service_wait": ("SERVICE_WAIT", "_SERVICE_WAIT"),
    "finish_timeout": ("FINISH_TIMEOUT",),
    "max_buffered_records": ("MAX_BUFFERED_RECORDS",),
    "agent_heartbeat": ("AGENT_HEARTBEAT",),
}
# Read only under RUNHIVE_*: they point at runhive's own daemon and store, never at W&B's.
_RUNHIVE_ONLY = {"service_dir", "data_dir", "service_idle_timeout", "max_buffered_records", "agent_heartbeat"}


def _default_service_dir() -> str:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return os.path.join(runtime, "runhive")
    return os.path.join(tempfile.gettempdir(), f"runhive-{os.getuid()}")


def _default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "runhive")


def _to_bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Settings:
    """Every knob of runhive. Unset fields (None) fall through to the next source in precedence order."""

    mode: str | None = None
    project: str | None = None
    entity: str | None = None
    run_name: str | None = None
    run_id: str | None = None
    run_notes: str | None = None
    run_group: str | None = None
    run_job_type: str | None = None
    run_tags: tuple[str, ...] | None = None
    reinit: str | bool | None = None
    root_dir: str | None = None
    resume: str | bool | None = None
    disable_code: bool | None = None
    save_code: bool | None = None
    silent: bool | None = None
    service_dir: str | None = None
    data_dir: str | None = None
    service_idle_timeout: float | None = None
    service_wait: float | None = None
    finish_timeout: float | None = None
    init_timeout: float | None = None
    max_buffered_records: int | None = None
    batch_max_records: int | None = None
    batch_window: float | None = None
    agent_heartbeat: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __init__(self, **kwargs: Any) -> None:
        known = {f.name for f in fields(self)}
        for f in fields(self):
            setattr(self, f.name, {} if f.name == "extra" else None)
        for key, value in kwargs.items():
            if key in known:
                setattr(self, key, value)
            elif key.startswith("x_") or key.startswith("_"):
                # W&B's private settings: kept so scripts that pass them still run.
                self.extra[key] = value
            else:
                raise UsageError(
                    f"Settings got an unknown argument {key!r}; valid settings are: {', '.join(sorted(known))}."
                )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings files overridden by the environment: what a process gets before any `setup()` or `init()`
        argument (the daemon resolves its directories with it)."""
        return settings_from_env(environ)

    def merged(self, other: Settings | Mapping[str, Any] | None) -> Settings:
        """A copy of self with every field `other` sets (not None) taking precedence."""
        out = Settings(**self.to_dict())
        if other is None:
            return out
        items = other.to_dict() if isinstance(other, Settings) else dict(other)
        for key, value in items.items():
            if value is None:
                continue
            if key == "extra":
                out.extra.update(value)
            else:
                Settings(**{key: value})  # validates the name
                setattr(out, key, value)
        return out

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["extra"] = dict(self.extra)
        return {k: v for k, v in d.items() if v is not None and not (k == "extra" and not v)}

    # Resolved values -------------------------------------------------------------------------------
    @property
    def resolved_mode(self) -> str:
        return normalize_mode(self.mode or "online")

    @property
    def resolved_service_dir(self) -> Path:
        return Path(self.service_dir or _default_service_dir())

    @property
    def resolved_data_dir(self) -> Path:
        return Path(self.data_dir or _default_data_dir())

    @property
    def store_path(self) -> Path:
        return self.resolved_data_dir / "runhive.db"

    @property
    def resolved_root_dir(self) -> Path:
        return Path(self.root_dir or os.getcwd())

    @property
    def resolved_service_wait(self) -> float:
        return float(self.service_wait if self.service_wait is not None else 30.0)

    @property
    def resolved_finish_timeout(self) -> float:
        # 0 means wait as long as it takes, as in W&B.
        return float(self.finish_timeout or 0.0)

    @property
    def resolved_max_buffered(self) -> int:
        return int(self.max_buffered_records or 100_000)

    @property
    def resolved_batch_max(self) -> int:
        return int(self.batch_max_records or 2_000)

    @property
    def resolved_agent_heartbeat(self) -> float:
        # W&B's agents call in every 5 s while a run goes on (for stop commands); an idle agent asks at once.
        return float(self.agent_heartbeat if self.agent_heartbeat is not None else 5.0)

    @property
    def resolved_batch_window(self) -> float:
        return float(self.batch_window if self.batch_window is not None else 0.002)


def normalize_mode(mode: str) -> str:
    if not isinstance(mode, str):
        raise UsageError(f"mode must be a string, got {mode!r}; choose one of {', '.join(_MODES)}.")
    value = _MODE_ALIASES.get(mode, mode)
    if value not in _MODES:
        raise UsageError(
            f"Invalid mode {mode!r}: choose one of 'online', 'offline' or 'disabled' ('dryrun' is an alias of "
            "'offline')."
        )
    return value


_FILE_KEYS = {
    "project",
    "entity",
    "mode",
    "reinit",
    "root_dir",
    "base_url",
    "silent",
    "disable_code",
    "save_code",
}


def settings_from_files(environ: Mapping[str, str] | None = None) -> Settings:
    """The user settings file, then the workspace one: INI files with a [default] section, as W&B's.

    `$RUNHIVE_CONFIG_DIR/settings` (default `~/.config/runhive/settings`), then `./runhive/settings`.
    """
    env = os.environ if environ is None else environ
    config_dir = (
        env.get("RUNHIVE_CONFIG_DIR")
        or env.get("WANDB_CONFIG_DIR")
        or os.path.join(os.path.expanduser("~"), ".config", "runhive")
    )
    values: dict[str, Any] = {}
    for path in (os.path.join(config_dir, "settings"), os.path.join("runhive", "settings")):
        if not os.path.isfile(path):  # the usual case: no configparser import (~2 ms) on init()'s path
            continue
        import configparser

        parser = configparser.ConfigParser()
        try:
            if not parser.read(path):
                continue
        except configparser.Error as exc:
            raise UsageError(f"The settings file {path} is not valid INI: {exc}") from None
        if not parser.has_section("default"):
            continue
        for key, raw in parser.items("default"):
            if key in _FILE_KEYS and key != "base_url":
                values[key] = _coerce(key, raw)
    return Settings(**values)


def settings_from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings files, overridden by the environment."""
    return settings_from_files(environ).merged(_settings_from_environ(environ))


def _settings_from_environ(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, suffixes in _ENV.items():
        prefixes = ("RUNHIVE_",) if name in _RUNHIVE_ONLY else ("RUNHIVE_", "WANDB_")
        raw = None
        for prefix in prefixes:
            for suffix in suffixes:
                if (prefix + suffix) in env:
                    raw = env[prefix + suffix]
                    break
            if raw is not None:
                break
        if raw is None or raw == "":
            continue
        values[name] = _coerce(name, raw)
    return Settings(**values)


def _coerce(name: str, raw: str) -> Any:
    if name in ("disable_code", "silent", "save_code"):
        return _to_bool(raw)
    if name in ("service_idle_timeout", "service_wait", "finish_timeout", "agent_heartbeat"):
        try:
            return float(raw)
        except ValueError:
            raise UsageError(
                f"Environment variable for {name} must be a number of seconds, got {raw!r}."
            ) from None
    if name == "max_buffered_records":
        return int(raw)
    if name == "run_tags":
        return tuple(t.strip() for t in raw.split(",") if t.strip())
    if name == "reinit" and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if name == "resume" and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return raw


def default_entity() -> str:
    """The entity when none is given: the user's login name, as W&B's local server does."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "local"
