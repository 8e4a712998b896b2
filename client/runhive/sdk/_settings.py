"""`Settings`: the one settings object, and where every path runhive uses comes from.

Precedence, lowest first: defaults, settings file, environment, `runhive.setup(settings)`,
`init(settings=...)`, explicit `init()` arguments. `RUNHIVE_*` variables win over the `WANDB_*` ones
of the W&B docs; W&B's credentials and endpoints are never read.

Every field of `wandb.Settings` is accepted (`WANDB_SETTINGS`, W&B's `_name` spelling included). Those that mean
something here are fields of this class (`console`, `quiet`, `silent`, `show_*`, `disable_git`, `disable_code`,
`code_dir`, `program`, `init_timeout`, `api_key`, `base_url`, `x_stats_sampling_interval`, `x_disable_stats`, and
the run fields `init()` also takes); the rest are kept in `extra` and have no effect. Any other name raises
`UsageError` with the closest valid names.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runhive.errors import UsageError

_MODES = ("online", "offline", "disabled")
_MODE_ALIASES = {"dryrun": "offline", "run": "online", "shared": "online"}
_CONSOLE = ("auto", "off", "wrap", "redirect", "wrap_raw", "wrap_emu")

# Every field of `wandb.Settings`, generated from W&B's wandb/sdk/wandb_settings.py (never imported at run time):
#   python -c 'import wandb, textwrap; print(textwrap.fill(" ".join(wandb.Settings.model_fields), 104))'
WANDB_SETTINGS_VERSION = "0.31.0"
WANDB_SETTINGS: tuple[str, ...] = tuple(
    """
    allow_media_symlink allow_offline_artifacts allow_val_change anonymous api_key
    azure_account_url_to_access_key app_url_override base_url code_dir config_paths console
    console_multipart console_chunk_max_bytes console_chunk_max_seconds capture_loggers credentials_file
    disable_code disable_git disable_git_fork_point disable_job_creation docker email entity organization
    force fork_from git_commit git_remote git_remote_url git_root heartbeat_seconds host http_proxy
    https_proxy identity_token_file ignore_globs init_timeout finish_timeout finish_timeout_raises
    insecure_disable_ssl job_name job_source label_disable launch launch_config_path login_timeout mode
    notebook_name program program_abspath program_relpath project quiet reinit relogin resume resume_from
    resumed root_dir run_group run_id run_job_type run_name run_notes run_tags sagemaker_disable save_code
    settings_system stop_fn max_end_of_run_history_metrics max_end_of_run_summary_metrics show_colors
    show_emoji show_errors show_info show_warnings silent stop_on_fatal_error strict summary_timeout
    summary_warnings sweep_id sweep_param_path symlink sync_tensorboard
    table_raise_on_max_row_limit_exceeded use_dot_wandb username x_cli_only_mode x_disable_meta
    x_disable_stats x_disable_viewer x_disable_machine_info x_executable x_extra_http_headers
    x_file_stream_max_bytes x_file_stream_max_line_bytes x_file_stream_transmit_interval
    x_file_stream_no_gzip x_file_stream_retry_max x_file_stream_retry_wait_min_seconds
    x_file_stream_retry_wait_max_seconds x_file_stream_timeout_seconds x_file_transfer_retry_max
    x_file_transfer_retry_wait_min_seconds x_file_transfer_retry_wait_max_seconds
    x_file_transfer_timeout_seconds x_files_dir x_flow_control_custom x_flow_control_disabled
    x_graphql_retry_max x_graphql_retry_wait_min_seconds x_graphql_retry_wait_max_seconds
    x_graphql_timeout_seconds x_history_value_encoding x_internal_check_process x_jupyter_name
    x_jupyter_path x_jupyter_root x_label x_live_policy_rate_limit x_live_policy_wait_time x_log_level
    x_network_buffer x_primary x_proxies x_runqueue_item_id x_save_requirements
    x_server_side_derived_summary x_service_transport x_service_wait x_skip_transaction_log x_start_time
    x_stats_pid x_stats_sampling_interval x_stats_neuron_monitor_config_path x_stats_dcgm_exporter
    x_stats_open_metrics_endpoints x_stats_open_metrics_filters x_stats_open_metrics_http_headers
    x_stats_disk_paths x_stats_cpu_count x_stats_cpu_logical_count x_stats_gpu_count x_stats_gpu_type
    x_stats_gpu_device_ids x_stats_buffer_size x_stats_coreweave_metadata_base_url
    x_stats_coreweave_metadata_endpoint x_stats_track_process_tree x_stats_no_cgroup x_stats_self_usage
    x_sync x_sync_dir_suffix x_transaction_log_flush_interval x_update_finish_state
    """.split()
)
_WANDB_NAMES = frozenset(WANDB_SETTINGS)
# W&B's other spellings of a name (its pydantic aliases), and W&B names that are a runhive setting's twin.
_ALIASES = {"x_primary_node": "x_primary", "x_service_wait": "service_wait"}
_BOOLS = frozenset(
    {
        "disable_code",
        "save_code",
        "silent",
        "quiet",
        "show_info",
        "show_warnings",
        "show_errors",
        "disable_git",
    }
    | {"x_disable_stats"}
)
_SECONDS = frozenset(
    {
        "service_idle_timeout",
        "service_wait",
        "finish_timeout",
        "init_timeout",
        "agent_heartbeat",
        "batch_window",
    }
    | {"x_stats_sampling_interval"}
)

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
    "quiet": ("QUIET",),
    "show_info": ("SHOW_INFO",),
    "show_warnings": ("SHOW_WARNINGS",),
    "show_errors": ("SHOW_ERRORS",),
    "console": ("CONSOLE",),
    "disable_git": ("DISABLE_GIT",),
    "code_dir": ("CODE_DIR",),
    "program": ("PROGRAM",),
    "init_timeout": ("INIT_TIMEOUT",),
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
    """Every knob of runhive, and every name of `wandb.Settings`. Unset fields (None) fall through to the next
    source in precedence order; W&B names runhive does not use are kept in `extra`."""

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
    code_dir: str | None = None  # with save_code: the *.py files under it are copied to the run's files/code/
    program: str | None = None  # the script recorded as the run's program (and saved with save_code)
    disable_git: bool | None = None  # no git commit, remote or diff.patch captured
    # Terminal lines (`runhive: ...` on stderr): silent hides all, quiet the informational ones.
    silent: bool | None = None
    quiet: bool | None = None
    show_info: bool | None = None
    show_warnings: bool | None = None
    show_errors: bool | None = None
    # W&B's console capture into the run's files/output.log (sdk._console): "auto" (the default), "wrap",
    # "wrap_raw", "wrap_emu" and "redirect" wrap sys.stdout/sys.stderr's write (no fd-level capture); "off": none.
    console: str | None = None
    # The team server online runs are uploaded to (`sdk._credentials.server_for`; else RUNHIVE_BASE_URL / _API_KEY,
    # else `runhive login`). Never read from WANDB_API_KEY / WANDB_BASE_URL.
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    # System metrics are sampled by the daemon (RUNHIVE_STATS_SAMPLING_INTERVAL by default); these travel with
    # InitRun (daemon._sysmon): x_disable_stats leaves this process out, x_stats_sampling_interval is the run's pace.
    x_stats_sampling_interval: float | None = None
    x_disable_stats: bool | None = None
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
        for name in _FIELDS:
            object.__setattr__(self, name, {} if name == "extra" else None)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        name = canonical_name(key)
        if name in _FIELDS:
            object.__setattr__(self, name, _checked(name, value))
        else:
            self.extra[name] = value  # a W&B setting with no effect here: kept so scripts that pass it run

    if not TYPE_CHECKING:  # hidden from mypy so a typo of a runhive field still fails type checking

        def __getattr__(self, key: str) -> Any:
            # Only reached for names that are not fields: W&B's settings kept in `extra` (None when unset).
            if key.startswith("__") or key == "extra":
                raise AttributeError(key)
            try:
                name = canonical_name(key)
            except UsageError as exc:  # hasattr() and getattr(s, name, default) expect AttributeError
                raise AttributeError(str(exc)) from None
            return self.__dict__.get("extra", {}).get(name)

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
        if not isinstance(other, Settings):
            other = Settings(**dict(other))  # validates the names and values of a plain dict
        for key, value in other.to_dict().items():
            if key == "extra":
                out.extra.update(value)
            else:
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

    @property
    def resolved_init_timeout(self) -> float:
        # W&B's default: how long init() waits for the daemon to open the run.
        return float(self.init_timeout if self.init_timeout is not None else 90.0)


_FIELDS = frozenset(f.name for f in fields(Settings))
# runhive's own settings (not W&B's): named when a misspelt setting has no close match.
_RUNHIVE_OWN = tuple(sorted(_FIELDS - _WANDB_NAMES - {"extra"}))


def canonical_name(key: str) -> str:
    """The name a setting is stored under: W&B's legacy `_name` is `x_name`, and W&B's aliases resolve."""
    if not isinstance(key, str):
        raise UsageError(f"Setting names are strings, got {key!r}.")
    name = "x" + key if key.startswith("_") and not key.startswith("__") else key
    name = _ALIASES.get(name, name)
    if name not in _FIELDS and name not in _WANDB_NAMES:
        raise _unknown(key)
    return name


def _unknown(key: str) -> UsageError:
    import difflib

    candidates = sorted((_FIELDS | _WANDB_NAMES | set(_ALIASES)) - {"extra"})
    close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.6)
    if not close and key.startswith("_"):
        close = difflib.get_close_matches("x" + key, candidates, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return UsageError(
        f"Settings got an unknown argument {key!r}.{hint} runhive.Settings takes every wandb.Settings field "
        f"(W&B {WANDB_SETTINGS_VERSION}) and runhive's own: {', '.join(_RUNHIVE_OWN)}."
    )


def _checked(name: str, value: Any) -> Any:
    """A value as the field keeps it: W&B's choices and bounds checked, strings from files coerced."""
    if value is None:
        return None
    if name in _BOOLS:
        if isinstance(value, str):
            return _to_bool(value)
        return bool(value)
    if name in _SECONDS:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise UsageError(f"Setting {name} must be a number of seconds, got {value!r}.")
        try:
            seconds = float(value)
        except ValueError:
            raise UsageError(f"Setting {name} must be a number of seconds, got {value!r}.") from None
        if name == "x_stats_sampling_interval" and seconds < 0.1:
            raise UsageError("Stats sampling interval cannot be less than 0.1 seconds.")
        return seconds
    if name == "console" and value not in _CONSOLE:
        raise UsageError(f"Invalid console={value!r}: choose one of {', '.join(repr(c) for c in _CONSOLE)}.")
    if name in ("code_dir", "program", "root_dir") and isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


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


def user_config_dir(environ: Mapping[str, str] | None = None, wandb_twin: bool = True) -> str:
    """runhive's directory of user files: `$RUNHIVE_CONFIG_DIR`, else `$WANDB_CONFIG_DIR` (when `wandb_twin`),
    else `$XDG_CONFIG_HOME/runhive`, else `~/.config/runhive`."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    twin = env.get("WANDB_CONFIG_DIR") if wandb_twin else None
    return env.get("RUNHIVE_CONFIG_DIR") or twin or os.path.join(xdg, "runhive")


def settings_paths(environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The user settings file and the workspace one (`./runhive/settings`, where `runhive offline` writes the
    mode, as `wandb offline` does in `./wandb/settings`), lowest precedence first."""
    return os.path.join(user_config_dir(environ), "settings"), os.path.join("runhive", "settings")


def credentials_path(environ: Mapping[str, str] | None = None) -> str:
    """The 0600 file `runhive login` keeps team-server keys in (never in W&B's `WANDB_CONFIG_DIR`)."""
    return os.path.join(user_config_dir(environ, wandb_twin=False), "credentials")


def settings_from_files(environ: Mapping[str, str] | None = None) -> Settings:
    """The user settings file, then the workspace one: INI files with a [default] section, as W&B's.

    `$RUNHIVE_CONFIG_DIR/settings` (default `~/.config/runhive/settings`), then `./runhive/settings`.
    """
    values: dict[str, Any] = {}
    for path in settings_paths(environ):
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
    if name in _BOOLS:
        return _to_bool(raw)
    if name in _SECONDS:
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
